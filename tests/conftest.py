"""Fixtures for the whole suite live in tests/plugins, one module per concern."""

import os

from hypothesis import settings

# CI runs the property and fuzz tests on a fixed sequence of examples, so a build fails only for
# a change, never for a newly drawn input; locally each run draws new ones and finds more.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default"))

pytest_plugins = [
    "tests.plugins.database",
    "tests.plugins.api",
    "tests.plugins.factories",
    "tests.plugins.emulator",
    "tests.plugins.auth",
    "tests.plugins.sync",
    "tests.plugins.typescript",
]
