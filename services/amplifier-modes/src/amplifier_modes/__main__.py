from amplifier_ipc_protocol import Server


def main() -> None:
    Server("amplifier_modes", name="amplifier-modes").run()


if __name__ == "__main__":
    main()
