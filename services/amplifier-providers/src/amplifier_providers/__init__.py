"""amplifier-providers: an amplifier-ipc service."""
