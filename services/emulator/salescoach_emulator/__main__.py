"""``python -m salescoach_emulator``: the emulator's commands without the product CLI."""

from salescoach_emulator.cli import app

app(prog_name="salescoach-emulator")
