"""``python -m fakescan`` runs the command line."""

from fakescan.cli import main

main()
