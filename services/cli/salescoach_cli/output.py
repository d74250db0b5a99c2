"""What every `salescoach` command shares: its typer app, results to stdout, problems to stderr."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, NoReturn

import typer

if TYPE_CHECKING:
    from rich.console import Console


# Made on first use: rich's console is not needed by `--help` and costs its start-up.
@cache
def console() -> Console:
    """Results, to stdout."""
    from salescoach_core.terminal import make_console

    return make_console()


@cache
def error_console() -> Console:
    """Problems, to stderr."""
    from salescoach_core.terminal import make_console

    return make_console(stderr=True)


def command_app(help: str, *, name: str | None = None) -> typer.Typer:
    """A command group. Help is click's plain text: typer's rich help panels import markdown-it
    and rich's traceback machinery, which cost `salescoach --help` more than everything else."""
    return typer.Typer(
        name=name,
        help=help,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
    )


def fail(message: str, code: int = 1) -> NoReturn:
    # soft_wrap: one message stays one line in a log or pipe, however narrow the console.
    error_console().print(f"[bold red]error:[/] {message}", soft_wrap=True)
    # SystemExit rather than typer.Exit: it also ends the process cleanly when raised outside a
    # command (main's handler for an unreachable database), where typer.Exit would be a traceback.
    raise SystemExit(code)
