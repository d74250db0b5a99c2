"""How the change probes are packed into composite requests (probe.py): window counts for
objects whose probe cannot be trusted ride only in the room the trusted probes leave, so they
save a COUNT() call and never cost a composite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from salescoach_core.settings import Settings
from salescoach_sync.objects import object_specs
from salescoach_sync.probe import MAX_QUERY_SUBREQUESTS, _batches, _plan
from salescoach_sync.state import ObjectState

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
OVERLAP = 120


def _state(name: str, *, trusted: bool) -> ObjectState:
    """A state read a minute ago. Trusted: our newest record is older than the read minus the
    overlap. Untrusted: we hold a record stamped after that point (a change just read)."""
    read_at = NOW - timedelta(minutes=1)
    hwm = read_at - timedelta(seconds=OVERLAP + 60) if trusted else read_at - timedelta(seconds=5)
    return ObjectState(
        object_name=name, high_water_mark=hwm, last_full_sync_at=NOW - timedelta(hours=1),
        last_reconciled_at=NOW - timedelta(hours=1), last_mode="incremental", last_status="ok",
        last_started_at=read_at, last_finished_at=read_at, last_success_at=read_at,
        rows_inserted=0, rows_updated=0, rows_deleted=0, api_calls=0, last_error=None,
        described_fields=None, described_at=None, deleted_checked_at=read_at, window_read_at=read_at,
    )  # fmt: skip


def _kinds(untrusted: set[str], tmp_path: Path) -> tuple[dict[str, list[str]], int]:
    settings = Settings(state_dir=tmp_path, sync_overlap_seconds=OVERLAP, sync_deleted_every_minutes=15)
    items = [(spec, _state(spec.name, trusted=spec.name not in untrusted)) for spec in object_specs()]
    subs, _ = _plan(items, settings, NOW)
    kinds: dict[str, list[str]] = {}
    for sub in subs:
        kinds.setdefault(sub.object_name, []).append(sub.kind)
    return kinds, len(_batches(subs))


def test_an_untrusted_objects_window_count_fills_the_room_the_others_leave(tmp_path: Path) -> None:
    kinds, composites = _kinds({"Task"}, tmp_path)

    # Five objects probed (User by getUpdated, so four COUNT()s): room for Task's window count.
    assert kinds == {
        "User": ["updated"], "OpportunityStage": ["count"], "Opportunity": ["count"],
        "OpportunityHistory": ["count"], "Event": ["count"], "Task": ["window"],
    }  # fmt: skip
    assert composites == 1


def test_a_window_count_never_costs_a_composite_of_its_own(tmp_path: Path) -> None:
    # User untrusted: no getUpdated stands in for a COUNT(), so the five other probes fill the
    # composite's query allowance and User's window count is left out (it will COUNT() itself).
    kinds, composites = _kinds({"User"}, tmp_path)
    assert "User" not in kinds
    assert sum(k in ("count", "window") for ks in kinds.values() for k in ks) == MAX_QUERY_SUBREQUESTS
    assert composites == 1

    # Nothing trusted and no getDeleted due: no composite at all.
    kinds, composites = _kinds({spec.name for spec in object_specs()}, tmp_path)
    assert (kinds, composites) == ({}, 0)
