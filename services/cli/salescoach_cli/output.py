"""Terminal output for commands: results to stdout, problems to stderr."""

from typing import NoReturn

import typer
from rich.console import Console

console = Console(highlight=False)
error_console = Console(stderr=True, highlight=False)


def fail(message: str, code: int = 1) -> NoReturn:
    error_console.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)
