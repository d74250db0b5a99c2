"""The benchmarks' peak-RSS probe measures the child, not the process that started it."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.bench.memory import PeakRss

CHILD = (
    "import sys, time; b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
    "time.sleep(0.3); sys.stderr.close(); time.sleep(0.1)"
)


def test_a_childs_peak_rss_is_its_own_not_its_parents() -> None:
    ballast = bytearray(400 * 2**20)
    ballast[::4096] = b"x" * len(ballast[::4096])  # resident, not only reserved
    process = subprocess.Popen([sys.executable, "-c", CHILD], stderr=subprocess.PIPE)
    assert process.stderr is not None
    with PeakRss(process.pid) as peak:
        process.stderr.read()
    _, _, usage = os.wait4(process.pid, 0)
    # exec left the 400 MB parent's high-water mark in the child's rusage; VmHWM is the child's.
    assert usage.ru_maxrss / 1024 >= 400
    assert 80 <= peak.mb < 200
    del ballast
