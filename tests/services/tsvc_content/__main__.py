import os

from amplifier_ipc_protocol import Server

Server("tsvc_content", name=os.environ.get("TSVC_NAME")).run()
