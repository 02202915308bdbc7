"""amplifier-docs: an amplifier-ipc service."""
