"""Emulator fixtures, until the root conftest lists ``tests.plugins.emulator``."""

from tests.plugins.emulator import *  # noqa: F403
