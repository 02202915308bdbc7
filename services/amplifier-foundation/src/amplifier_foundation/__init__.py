"""amplifier-foundation: an amplifier-ipc service."""
