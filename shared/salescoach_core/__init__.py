"""Code both services use: settings, database access, table models and domain logic."""


def __getattr__(name: str) -> str:
    # __version__ on demand: importlib.metadata costs every command's start-up, and only the
    # API's OpenAPI document reads it.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("salescoach")
    except PackageNotFoundError:  # running from a source tree without an install
        return "0.0.0"
