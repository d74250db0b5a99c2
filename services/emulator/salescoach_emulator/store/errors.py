"""The store's one exception: a request Salesforce would refuse."""

from __future__ import annotations

from collections.abc import Sequence


class RecordError(Exception):
    """A write Salesforce would refuse: status, errorCode, message and the fields involved."""

    def __init__(
        self, error_code: str, message: str, *, fields: Sequence[str] = (), status: int = 400
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.fields = list(fields)
        self.status = status
