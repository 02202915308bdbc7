"""amplifier-skills: an amplifier-ipc service."""
