from amplifier_ipc_protocol import Server


def main() -> None:
    Server("amplifier_mcp", name="amplifier-mcp").run()


if __name__ == "__main__":
    main()
