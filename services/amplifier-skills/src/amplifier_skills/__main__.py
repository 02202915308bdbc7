from amplifier_ipc_protocol import Server


def main() -> None:
    Server("amplifier_skills", name="amplifier-skills").run()


if __name__ == "__main__":
    main()
