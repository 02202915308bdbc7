"""amplifier-mcp: an amplifier-ipc service."""
