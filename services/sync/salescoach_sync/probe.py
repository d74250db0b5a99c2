"""Change probes: one `composite` request (one API call) tells, for every object of an
incremental pass, whether anything changed since its last read, and carries getDeleted's
answer for the objects whose getDeleted cadence is due. A quiet pass costs that one call.

Counting the incremental window itself would never say "nothing": it starts `overlap` before
the high-water mark, so it always holds the newest records we already have (and an edit of one
of them keeps the count). A probe therefore counts records stamped at or after P = (when the
last read began) - overlap, and is trusted only when we hold no record stamped at or after P
(high-water mark < P): then every record it counts is new to us, and any change since that
read, late commits included, is stamped after P. Until then (the `overlap` seconds after a
change) the object reads its window as before. A probe that finds nothing moves P on: it saw
the same thing an empty read would have.

An object whose probe cannot be trusted yet reads its window, and a table above the REST
threshold needs the window's size to choose REST or Bulk. When the composite has room (see
below), it counts that window too (`Probe.window`), so the object makes no COUNT() call of its
own. The count only chooses the API, never limits what is read, so one taken a moment before
the read (or, if another worker synced meanwhile, for a slightly different window) is safe.

Salesforce allows 5 query subrequests per composite: with six objects, the one that getUpdated
serves (User) is probed with getUpdated instead of a COUNT(); a further composite is sent only
when that is impossible (its last good read is older than getUpdated's 30 days). Window counts
are sent only within the allowance of the composites the probes need anyway: they save a call
and must never cost one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlencode

import structlog

from salescoach_core.settings import Settings
from salescoach_sync.client import SalesforceClient, salesforce_datetime
from salescoach_sync.errors import SyncError
from salescoach_sync.objects import MODSTAMP, ObjectSpec
from salescoach_sync.state import ObjectState

log = structlog.get_logger(__name__)

MAX_SUBREQUESTS = 25
MAX_QUERY_SUBREQUESTS = 5
# getDeleted reaches back 15 days; keep a margin for clock skew between us and Salesforce.
GET_DELETED_DAYS = 15
GET_DELETED_MARGIN = timedelta(hours=1)
# getUpdated reaches back 30 days; a day's margin.
GET_UPDATED_REACH = timedelta(days=29)
# getDeleted and getUpdated want a span of at least a minute.
MIN_SPAN = timedelta(minutes=1)

Reconcile = Literal["reconcile"]


def window_start(hwm: datetime | None, overlap_seconds: float) -> datetime | None:
    """Where an incremental read starts: the high-water mark less the overlap, to the second."""
    if hwm is None:
        return None
    return (hwm - timedelta(seconds=overlap_seconds)).replace(microsecond=0)


def deleted_span_start(
    spec: ObjectSpec, state: ObjectState, start: datetime | None, now: datetime, settings: Settings
) -> datetime | Reconcile | None:
    """Where this pass's getDeleted span starts; None when getDeleted is not due (its cadence,
    SALESCOACH_SYNC_DELETED_EVERY_MINUTES, counts from the end of the span last covered), or
    "reconcile" when the span reaches beyond getDeleted's 15 days (only the id sets can tell)."""
    if not spec.has_is_deleted or start is None:
        return None
    checked = state.deleted_checked_at
    every = timedelta(minutes=settings.sync_deleted_every_minutes)
    if checked is not None and now - checked < every:
        return None
    since = checked or start
    if since < now - timedelta(days=GET_DELETED_DAYS) + GET_DELETED_MARGIN:
        return "reconcile"
    return min(since, now - MIN_SPAN)


def probe_start(state: ObjectState, settings: Settings) -> datetime | None:
    """P, from which a probe counts (to the second, rounded down: it may count more, never
    less); None when a probe could not be trusted yet (see the module docstring)."""
    if state.window_read_at is None:
        return None
    since = (state.window_read_at - timedelta(seconds=settings.sync_overlap_seconds)).replace(microsecond=0)
    if state.high_water_mark is not None and state.high_water_mark >= since:
        return None
    return since


def parse_sf_datetime(value: str) -> datetime:
    """Salesforce REST datetimes (`...+0000`, `...Z`) as aware datetimes."""
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    return datetime.fromisoformat(text)


@dataclass(frozen=True)
class DeletedSpan:
    """getDeleted's answer for a span, read: the records it lists (id, deletedDate), the end of
    the span it covered, and whether the recycle bin was emptied after the span's start (then
    deletes may be invisible and only an id reconciliation can tell)."""

    records: list[tuple[str, datetime]]
    checked_until: datetime
    bin_emptied: bool


def read_deleted(body: dict[str, Any], start: datetime, now: datetime) -> DeletedSpan:
    covered = body.get("latestDateCovered")
    earliest = body.get("earliestDateAvailable")
    return DeletedSpan(
        records=[
            (str(r["id"]), parse_sf_datetime(str(r["deletedDate"])))
            for r in body.get("deletedRecords", [])
            if r.get("deletedDate")
        ],
        checked_until=parse_sf_datetime(str(covered)) if covered else now,
        bin_emptied=bool(earliest) and parse_sf_datetime(str(earliest)) > start,
    )


@dataclass
class Probe:
    """What the composite said about one object. `changed`: records in the window (COUNT()),
    0 when getUpdated listed none, None when unknown (the object reads as without a probe).
    `deleted`: getDeleted's body for the span from `deleted_start` to `at`, when it was due."""

    at: datetime
    changed: int | None = None
    # P, when `changed` is a COUNT() of the records stamped at or after it: exactly the records
    # new since the last read, so the read that follows can start there.
    counted_from: datetime | None = None
    # Records in the read window (SystemModstamp >= high-water mark - overlap), counted when the
    # probe could not be trusted and the composite had room; None otherwise.
    window: int | None = None
    # How far a probe that found nothing saw (its instant; getUpdated's latestDateCovered).
    seen_until: datetime | None = None
    deleted_start: datetime | None = None
    deleted: dict[str, Any] | None = None


@dataclass(frozen=True)
class _Sub:
    object_name: str
    kind: Literal["count", "window", "updated", "deleted"]
    url: str
    since: datetime | None = None  # what a count counts from

    @property
    def is_query(self) -> bool:
        return self.kind in ("count", "window")


def _count_url(spec: ObjectSpec, since: datetime) -> str:
    endpoint = "queryAll" if spec.query_all else "query"
    soql = f"SELECT COUNT() FROM {spec.name} WHERE {MODSTAMP} >= {salesforce_datetime(since)}"  # noqa: S608
    return f"{endpoint}?{urlencode({'q': soql})}"


def _span(start: datetime, end: datetime) -> str:
    return urlencode({"start": salesforce_datetime(start), "end": salesforce_datetime(end)})


def _plan(
    items: Sequence[tuple[ObjectSpec, ObjectState]], settings: Settings, now: datetime
) -> tuple[list[_Sub], dict[str, Probe]]:
    subs: list[_Sub] = []
    probes: dict[str, Probe] = {}
    updated_ok: dict[str, datetime] = {}
    for spec, state in items:
        probe = probes[spec.name] = Probe(at=now)
        start = window_start(state.high_water_mark, settings.sync_overlap_seconds)
        since = probe_start(state, settings)
        if since is not None:
            subs.append(_Sub(spec.name, "count", _count_url(spec, since), since))
            if spec.probe_with_get_updated and since >= now - GET_UPDATED_REACH:
                updated_ok[spec.name] = min(since, now - MIN_SPAN)
        elif start is not None:
            subs.append(_Sub(spec.name, "window", _count_url(spec, start), start))
        deleted = deleted_span_start(spec, state, start, now, settings)
        if isinstance(deleted, datetime):
            probe.deleted_start = deleted
            subs.append(_Sub(spec.name, "deleted", f"sobjects/{spec.name}/deleted?{_span(deleted, now)}"))
    # Within the composite's query allowance, getUpdated stands in for COUNT() where it can.
    for name, since in updated_ok.items():
        if sum(s.is_query for s in subs) <= MAX_QUERY_SUBREQUESTS:
            break
        subs = [s for s in subs if not (s.object_name == name and s.kind == "count")]
        subs.append(_Sub(name, "updated", f"sobjects/{name}/updated?{_span(since, now)}"))
    # Window counts only fill the room the probes leave in the composites they need anyway.
    needed = [s for s in subs if s.kind != "window"]
    if not needed:
        return [], probes
    room = len(_batches(needed)) * MAX_QUERY_SUBREQUESTS - sum(s.is_query for s in needed)
    windows = [s for s in subs if s.kind == "window"][: max(room, 0)]
    return needed + windows, probes


def _batches(subs: list[_Sub]) -> list[list[_Sub]]:
    batches: list[list[_Sub]] = []
    for sub in subs:
        for batch in batches:
            room = len(batch) < MAX_SUBREQUESTS
            if room and (not sub.is_query or sum(s.is_query for s in batch) < MAX_QUERY_SUBREQUESTS):
                batch.append(sub)
                break
        else:
            batches.append([sub])
    return batches


def probe_changes(
    client: SalesforceClient,
    items: Sequence[tuple[ObjectSpec, ObjectState]],
    settings: Settings,
    now: datetime,
) -> dict[str, Probe]:
    """Probe every object in `items` (incremental ones) with as few composite requests as the
    limits allow (one for the six objects). A probe that fails is logged and left unknown: the
    object then reads as it would without one, and reports whatever error it meets."""
    subs, probes = _plan(items, settings, now)
    for batch in _batches(subs):
        try:
            answers = client.composite([{"url": s.url, "referenceId": f"r{i}"} for i, s in enumerate(batch)])
        except SyncError as exc:
            log.warning("sync_probe_failed", code=exc.code, error=str(exc))
            continue
        for sub, answer in zip(batch, answers, strict=True):
            status = int(answer.get("httpStatusCode") or 0)
            body = answer.get("body")
            if not 200 <= status < 300 or not isinstance(body, dict):
                log.warning("sync_probe_part_failed", object=sub.object_name, kind=sub.kind, body=body)
                continue
            probe = probes[sub.object_name]
            if sub.kind == "count":
                probe.changed = int(body.get("totalSize", 0))
                probe.seen_until = probe.at
                probe.counted_from = sub.since
            elif sub.kind == "window":
                probe.window = int(body.get("totalSize", 0))
            elif sub.kind == "updated":
                probe.changed = 0 if not body.get("ids") else None
                covered = body.get("latestDateCovered")
                probe.seen_until = min(probe.at, parse_sf_datetime(str(covered))) if covered else None
                if probe.seen_until is None:
                    probe.changed = None
            else:
                probe.deleted = body
    return probes


@dataclass(frozen=True)
class QuietCheckpoint:
    """Where a quiet object's checkpoints move: `window_read_at` to what the probe saw,
    `deleted_checked_at` to the end of the getDeleted span it carried (None: not due)."""

    window_read_at: datetime
    deleted_checked_at: datetime | None


def quiet_checkpoint(
    spec: ObjectSpec, state: ObjectState, probe: Probe, settings: Settings
) -> QuietCheckpoint | None:
    """The checkpoints of an object the probe shows to have nothing to do: no record to read,
    no delete to apply (getDeleted not due, or due and listing none with the recycle bin
    intact), no id reconciliation due. None when it has something to do, or the probe cannot
    tell: the object then runs as usual."""
    if probe.changed != 0 or probe.seen_until is None:
        return None
    reconciled = state.last_reconciled_at
    if reconciled is None or probe.at - reconciled >= timedelta(hours=settings.sync_reconcile_every_hours):
        return None
    start = window_start(state.high_water_mark, settings.sync_overlap_seconds)
    due = deleted_span_start(spec, state, start, probe.at, settings)
    if due is None:
        return QuietCheckpoint(probe.seen_until, None)
    if not isinstance(due, datetime) or due != probe.deleted_start or probe.deleted is None:
        return None
    span = read_deleted(probe.deleted, due, probe.at)
    if span.records or span.bin_emptied:
        return None
    return QuietCheckpoint(probe.seen_until, span.checked_until)
