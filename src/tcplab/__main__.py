"""``python -m tcplab`` runs the CLI."""

from tcplab.cli.main import main

main()
