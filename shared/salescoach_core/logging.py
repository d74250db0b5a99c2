"""Structured logs for every process: one JSON object a line (or readable lines at a terminal).

The standard library's loggers (uvicorn, alembic, sqlalchemy) go through the same renderer,
and the request id bound by the API is on every line logged while serving that request.
Tracebacks carry no local variables, and one processor redacts credentials from every line
just before it is written (docs/security.md).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping
from typing import Any

import structlog

_SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


REDACTED = "[REDACTED]"

# Field names whose values are credentials whatever they look like (matched as substrings,
# case-insensitively: `client_secret`, `X-Api-Key`, `refresh_token`, `set-cookie`, ...).
_SECRET_NAMES = re.compile(
    r"authorization|cookie|password|passwd|secret|token|api[_-]?key|private[_-]?key|credential|session[_-]?id",
    re.IGNORECASE,
)
# Credentials inside free text: exception messages, reprs of headers, URLs, tracebacks.
_SECRET_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # The visible prefix names the key and stays; the secret part goes.
    (re.compile(r"(sc_live_[0-9a-f]{8})_[A-Za-z0-9_\-]+"), r"\1_" + REDACTED),
    (re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=\-]+", re.IGNORECASE), r"\1 " + REDACTED),
    # user:password@ in any URL, a DSN included.
    (re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*://[^\s:/@]*):[^\s@/]*@"), r"\1:" + REDACTED + "@"),
    # key=value and "key": "value" pairs: libpq conninfo, query strings, dict and header reprs.
    (
        re.compile(
            r"""((?:password|passwd|secret|token|api[_-]?key|authorization|cookie)[A-Za-z_\-]*"""
            r"""['"]?\s*[:=]\s*(?:b?['"])?)[^'"\s,;&}]+""",
            re.IGNORECASE,
        ),
        r"\1" + REDACTED,
    ),
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]+"), "whsec_" + REDACTED),
    # Salesforce access tokens: the org id, '!', then the session.
    (re.compile(r"\b(00D[A-Za-z0-9]{12,15})![A-Za-z0-9._\-]+"), r"\1!" + REDACTED),
    (
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL),
        REDACTED,
    ),
]


def redact(value: Any) -> Any:
    """`value` with every credential it holds replaced by [REDACTED], at any depth."""
    if isinstance(value, str):
        for pattern, replacement in _SECRET_PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED
            if _names_a_secret(key) and isinstance(item, str | bytes | Mapping)
            else redact(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


def _names_a_secret(key: object) -> bool:
    return isinstance(key, str) and _SECRET_NAMES.search(key) is not None


def redact_secrets(_logger: Any, _method: str, event_dict: Any) -> Any:
    """The one structlog processor that keeps credentials out of logs; it runs last before
    rendering, after exceptions were turned into text, so tracebacks are covered too."""
    return redact(event_dict)


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the `sys.stderr` of the moment, not the one there when logging was configured.

    A test runner or CLI runner that swaps stderr and closes its stand-in afterwards would
    otherwise leave every later line going to a closed file.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route structlog and the standard library to stderr in one format."""
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())
    )
    # Loggers are cached on first use with a reference to the processor list: filling the one
    # list in place, rather than configuring a new one, keeps every logger already in use on the
    # current configuration (and visible to structlog.testing.capture_logs).
    processors = structlog.get_config()["processors"]
    processors[:] = [*_SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter]
    structlog.configure(
        processors=processors,
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_SHARED_PROCESSORS,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Locals would print every frame's variables: request headers, DSNs, keys.
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
            if fmt == "json"
            else structlog.processors.format_exc_info,
            redact_secrets,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
    logging.getLogger("httpx").setLevel(max(root.level, logging.WARNING))
    # The API writes its own access line, with the request id and duration.
    logging.getLogger("uvicorn.access").handlers[:] = []
    logging.getLogger("uvicorn.access").propagate = False
