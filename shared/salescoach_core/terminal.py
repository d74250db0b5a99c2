"""Rich consoles for the command-line tools.

Rich draws tables to the width of the terminal, and to 80 columns when output goes to a file
or a pipe, where a table of a dozen columns truncates every cell ("Opp…"). Redirected output
gets PIPE_WIDTH columns instead (COLUMNS, when set, still wins), so `salescoach sync status >
status.txt` and CI logs show whole values.
"""

from __future__ import annotations

import os
import sys

from rich.console import Console

PIPE_WIDTH = 200


def make_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    redirected = not stream.isatty() and "COLUMNS" not in os.environ
    return Console(stderr=stderr, highlight=False, width=PIPE_WIDTH if redirected else None)
