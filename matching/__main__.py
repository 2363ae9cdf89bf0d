"""`python -m matching …`: the same commands as the `matching` script."""

from .cli import main

main()
