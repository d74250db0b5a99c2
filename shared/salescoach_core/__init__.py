"""Code both services use: settings, database access, table models and domain logic."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("salescoach")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"
