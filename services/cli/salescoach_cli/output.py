"""Terminal output for commands: results to stdout, problems to stderr."""

from typing import NoReturn

from salescoach_core.terminal import make_console

console = make_console()
error_console = make_console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    # soft_wrap: one message stays one line in a log or pipe, however narrow the console.
    error_console.print(f"[bold red]error:[/] {message}", soft_wrap=True)
    # SystemExit rather than typer.Exit: it also ends the process cleanly when raised outside a
    # command (main's handler for an unreachable database), where typer.Exit would be a traceback.
    raise SystemExit(code)
