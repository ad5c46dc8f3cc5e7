"""The ``tcplab`` command line (typer). Each subcommand group lives in its own module."""
