from amplifier_ipc_protocol import Server


def main() -> None:
    """Serve the ``local`` provider over stdio."""
    Server("amplifier_local", name="amplifier-local").run()


if __name__ == "__main__":
    main()
