import io
import json
import logging
import sys

import pytest
import structlog
import structlog.testing

from salescoach_core.logging import REDACTED, configure_logging, redact


def test_lines_follow_stderr_when_the_stream_configured_with_is_swapped_and_closed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A CLI runner swaps stderr for a stand-in, the command configures logging, the runner
    # closes the stand-in: later lines go to the stderr of the moment, not the closed file.
    real = sys.stderr
    stand_in = io.StringIO()
    sys.stderr = stand_in
    try:
        configure_logging("INFO", "json")
    finally:
        sys.stderr = real
    stand_in.close()

    logging.getLogger("salescoach.test").warning("after the swap")

    err = capsys.readouterr().err
    assert "Logging error" not in err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert [line["event"] for line in lines] == ["after the swap"]


@pytest.mark.parametrize(
    ("logged", "secret"),
    [
        ("connection to postgresql://app:hunter2-pw@db:5432/sc failed", "hunter2-pw"),
        ("conninfo: host=db user=app password=hunter2-pw dbname=sc", "hunter2-pw"),
        ("{'authorization': 'Bearer eyJhbGciOi.payload.sig'}", "eyJhbGciOi.payload.sig"),
        ("key sc_live_0123abcd_AbCdEf-ghIJ_kl was refused", "AbCdEf-ghIJ_kl"),
        ("signing with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
        ("session 00D5g000004ABCD!AQ8AQJvY.xyz_token expired", "AQ8AQJvY.xyz_token"),
        ('{"client_secret": "abc123def"}', "abc123def"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIB\n-----END RSA PRIVATE KEY-----", "MIIEpAIB"),
    ],
)
def test_redaction_removes_credentials_from_free_text(logged: str, secret: str) -> None:
    assert secret not in redact(logged)
    assert REDACTED in redact(logged)


def test_redaction_blanks_fields_named_as_credentials_at_any_depth() -> None:
    event = {
        "event": "login",
        "headers": {"Authorization": "anything-at-all", "X-Request-ID": "r-1"},
        "frames": [{"password": "p1"}, {"token_count": 3}],
        "prefix": "sc_live_0123abcd",
    }
    assert redact(event) == {
        "event": "login",
        "headers": {"Authorization": REDACTED, "X-Request-ID": "r-1"},
        "frames": [{"password": REDACTED}, {"token_count": 3}],
        "prefix": "sc_live_0123abcd",
    }


def test_a_logger_in_use_follows_a_later_configuration() -> None:
    """Each process configures logging more than once (the API app, the CLI, the worker), and a
    module's logger is cached on first use: a later configuration, and a test capturing the
    events, must still reach it."""
    configure_logging("INFO", "json")
    logger = structlog.get_logger("salescoach_tests.cached")
    logger.info("first_use")  # cached from here on
    configure_logging("INFO", "console")
    with structlog.testing.capture_logs() as captured:
        logger.info("after_reconfiguration", n=1)
    assert [e["event"] for e in captured] == ["after_reconfiguration"]
