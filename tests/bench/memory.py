"""Peak resident memory of a child process, as Linux counts it for the process's own image.

`os.wait4`'s `ru_maxrss` is not that: exec records the high-water mark of the image it replaces
(the parent's, shared under vfork) into the process's rusage, so a child started by a pytest
process of 1 GB reports at least 1 GB however little it uses. `VmHWM` in /proc/PID/status is
the high-water mark of the current image only; it is read while the process runs.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

POLL_SECONDS = 0.05


def peak_rss_mb(pid: int) -> float | None:
    """The running process's peak resident set so far (VmHWM), None once it has exited."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None  # a zombie: its memory is gone


class PeakRss:
    """Polls `peak_rss_mb(pid)` in a thread while the block runs; `.mb` is the highest read
    (the high-water mark itself, so only a peak in the process's last moments can be missed).
    The caller must not reap the process inside the block: its pid could be reused."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.mb = 0.0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._done.wait(POLL_SECONDS):
            self.mb = max(self.mb, peak_rss_mb(self.pid) or 0.0)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()
        self.mb = max(self.mb, peak_rss_mb(self.pid) or 0.0)  # the last word, if it still runs
