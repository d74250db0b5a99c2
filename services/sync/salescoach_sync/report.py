"""What a sync pass did, per object and in total: the figures status, logs and exit codes use."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Mode = Literal["full", "incremental"]
Status = Literal["ok", "skipped", "failed", "stopped", "interrupted"]


@dataclass(frozen=True)
class ObjectResult:
    object_name: str
    mode: Mode | None
    status: Status
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rows_read: int = 0
    api_calls: int = 0
    seconds: float = 0.0
    high_water_mark: datetime | None = None
    reconciled: bool = False
    error: str | None = None
    error_code: str | None = None

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.updated or self.deleted)


@dataclass
class SyncReport:
    results: list[ObjectResult] = field(default_factory=list)
    # The pass's elapsed time (objects run concurrently: not the sum of theirs).
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(r.status in ("ok", "skipped") for r in self.results)

    @property
    def stopped_by_quota(self) -> bool:
        return any(r.status == "stopped" for r in self.results)

    @property
    def interrupted(self) -> bool:
        return any(r.status == "interrupted" for r in self.results)

    @property
    def changed_objects(self) -> list[str]:
        return [r.object_name for r in self.results if r.changed]

    @property
    def first_error(self) -> ObjectResult | None:
        return next((r for r in self.results if r.error), None)
