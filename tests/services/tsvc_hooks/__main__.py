import os

from amplifier_ipc_protocol import Server

Server("tsvc_hooks", name=os.environ.get("TSVC_NAME")).run()
