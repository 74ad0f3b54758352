"""One module per `mocapd` command: HELP, add_arguments(parser) and run(arguments, config) -> exit code."""
