"""Terminal output for commands: results to stdout, problems to stderr."""

from typing import NoReturn

import typer

from salescoach_core.terminal import make_console

console = make_console()
error_console = make_console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    error_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)
