from amplifier_ipc_protocol import Server


def main() -> None:
    Server("amplifier_foundation", name="amplifier-foundation").run()


if __name__ == "__main__":
    main()
