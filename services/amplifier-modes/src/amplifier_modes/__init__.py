"""amplifier-modes: an amplifier-ipc service."""
