"""A service that only serves content (context/notes.md): the describe cache tests' never-started service."""
