from amplifier_ipc_protocol import Server


def main() -> None:
    Server("amplifier_routing_matrix", name="amplifier-routing-matrix").run()


if __name__ == "__main__":
    main()
