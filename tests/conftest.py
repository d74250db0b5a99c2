"""Fixtures for the whole suite live in tests/plugins, one module per concern."""

pytest_plugins = [
    "tests.plugins.database",
    "tests.plugins.api",
    "tests.plugins.factories",
    "tests.plugins.emulator",
    "tests.plugins.auth",
    "tests.plugins.sync",
]
