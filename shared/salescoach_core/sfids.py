"""Salesforce record ids: 15 characters case-sensitive, or 18 with a 3-character case checksum."""

from __future__ import annotations

from salescoach_core.errors import InvalidIdError

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")


def checksum(id15: str) -> str:
    """The three-character suffix that makes a 15-character id case-insensitively unique."""
    out = []
    for start in (0, 5, 10):
        flags = 0
        for bit, char in enumerate(id15[start : start + 5]):
            if "A" <= char <= "Z":
                flags |= 1 << bit
        out.append(_CHECKSUM_ALPHABET[flags])
    return "".join(out)


def to18(value: str) -> str:
    """Normalise a 15- or 18-character id to 18 characters; raise ValueError otherwise."""
    if len(value) == 18 and all(c in _BASE62 for c in value):
        if checksum(value[:15]) != value[15:].upper():
            raise ValueError(f"{value!r} is not a Salesforce id: its checksum does not match")
        # The suffix is case-insensitive on input; Salesforce always emits it in upper case.
        return value[:15] + value[15:].upper()
    if len(value) == 15 and all(c in _BASE62 for c in value):
        return value + checksum(value)
    raise ValueError(f"{value!r} is not a Salesforce id (15 or 18 letters and digits)")


def normalise_id(value: str, *, field: str) -> str:
    """`to18` for a request's value: 422 `invalid_id` naming `field` for a malformed one."""
    try:
        return to18(value)
    except ValueError as exc:
        raise InvalidIdError(f"`{field}`: {exc}.", field=field) from exc


def is_valid_id(value: str) -> bool:
    """True for a well-formed 15- or 18-character id (checksum verified for 18)."""
    try:
        to18(value)
    except ValueError:
        return False
    return True
