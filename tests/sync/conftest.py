"""Sync fixtures, until the root conftest lists ``tests.plugins.sync``."""

from tests.plugins.sync import *  # noqa: F403
