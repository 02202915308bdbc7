"""amplifier-routing-matrix: an amplifier-ipc service."""
