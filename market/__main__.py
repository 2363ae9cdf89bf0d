"""`python -m market …`: the `market` command."""

from .cli import main

main()
