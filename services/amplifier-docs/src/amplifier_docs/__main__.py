from amplifier_ipc_protocol import Server


def main() -> None:
    Server("amplifier_docs", name="amplifier-docs").run()


if __name__ == "__main__":
    main()
