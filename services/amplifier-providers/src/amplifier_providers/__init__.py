"""amplifier-providers: LLM providers for amplifier-ipc.

One component per vendor in ``providers/``, each on the vendor's official SDK
(imported only when a request needs it), plus ``scripted``, a deterministic
provider for demos and tests.
"""
