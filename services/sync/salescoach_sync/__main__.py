"""`python -m salescoach_sync`: the sync commands without the rest of the CLI (worker images)."""

from salescoach_core.logging import configure_logging
from salescoach_core.settings import get_settings
from salescoach_sync.cli import app


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    app()


if __name__ == "__main__":
    main()
