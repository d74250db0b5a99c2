"""`python -m salescoach_cli`: the `salescoach` command without relying on PATH."""

from salescoach_cli.main import main

main()
