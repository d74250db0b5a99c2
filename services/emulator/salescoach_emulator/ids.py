"""Minting fresh Salesforce record ids with key prefixes (the checksum lives in salescoach_core.sfids)."""

from __future__ import annotations

import itertools
import threading

from salescoach_core.sfids import checksum

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

# Key prefixes of the standard objects the emulator knows by name.
KEY_PREFIXES: dict[str, str] = {
    "User": "005",
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "OpportunityHistory": "008",
    "OpportunityStage": "01J",
    "Task": "00T",
    "Event": "00U",
    "Organization": "00D",
    "UserRole": "00E",
    "Lead": "00Q",
}


def encode_base62(number: int, width: int) -> str:
    """Fixed-width base-62 digits, most significant first."""
    digits = []
    for _ in range(width):
        number, rem = divmod(number, 62)
        digits.append(_BASE62[rem])
    if number:
        raise ValueError("number too large for width")
    return "".join(reversed(digits))


def make_id(prefix: str, number: int, *, pod: str = "5g") -> str:
    """The 18-character id for sequence ``number`` of an object with key ``prefix``.

    Layout follows real ids: 3-char key prefix, 2-char pod, then the record number.
    """
    id15 = prefix + pod + encode_base62(number, 10)
    return id15 + checksum(id15)


def decode_base62(digits: str) -> int:
    number = 0
    for char in digits:
        number = number * 62 + _BASE62.index(char)
    return number


class IdMinter:
    """Thread-safe source of new ids per key prefix, starting above any id already loaded."""

    # A pod the generator never uses, so minted ids cannot collide with generated ones.
    POD = "9z"

    def __init__(self) -> None:
        self._pod = self.POD
        self._lock = threading.Lock()
        self._counters: dict[str, itertools.count[int]] = {}

    def seed(self, prefix: str, highest_existing: str | None) -> None:
        """Continue numbering after ``highest_existing`` (a minted id from an earlier run)."""
        start = decode_base62(highest_existing[5:15]) + 1 if highest_existing else 1
        with self._lock:
            self._counters[prefix] = itertools.count(start)

    def new_id(self, prefix: str) -> str:
        with self._lock:
            counter = self._counters.setdefault(prefix, itertools.count(1))
            number = next(counter)
        return make_id(prefix, number, pod=self._pod)
