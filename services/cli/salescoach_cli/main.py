"""The `salescoach` command: one entry point, one sub-app per service."""

import typer

app = typer.Typer(
    name="salescoach",
    help="salescoach: Salesforce sync, scorecards and coaching records.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
