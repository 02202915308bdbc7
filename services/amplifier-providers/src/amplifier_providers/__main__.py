from amplifier_ipc_protocol import Server


def main() -> None:
    Server("amplifier_providers", name="amplifier-providers").run()


if __name__ == "__main__":
    main()
