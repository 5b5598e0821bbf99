"""`python -m kmemsim`: the same as the `kmemsim` command."""

from kmemsim.cli.main import main

main()
