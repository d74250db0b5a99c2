import io
import json
import logging
import sys

import pytest

from salescoach_core.logging import configure_logging


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
