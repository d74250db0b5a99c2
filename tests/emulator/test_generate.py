"""The demo org generator: deterministic, complete, realistic enough for scorecards."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from datetime import date
from pathlib import Path

from salescoach_core.sfids import is_valid_id
from salescoach_emulator import generate_org
from salescoach_emulator.ids import KEY_PREFIXES

OBJECTS = (
    "User",
    "Account",
    "Contact",
    "Opportunity",
    "OpportunityHistory",
    "OpportunityStage",
    "Task",
    "Event",
)


def _read(org: Path, name: str) -> list[dict[str, str]]:
    with (org / f"{name}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def _digest(org: Path) -> str:
    return hashlib.sha256(b"".join((org / f"{n}.csv").read_bytes() for n in OBJECTS)).hexdigest()


def test_same_seed_same_org_other_seed_other_org(tmp_path: Path) -> None:
    options = {"reps": 4, "managers": 2, "months": 3, "end": date(2026, 3, 31), "activities_per_rep_week": 5}
    generate_org(tmp_path / "a", seed=11, **options)  # type: ignore[arg-type]
    generate_org(tmp_path / "b", seed=11, **options)  # type: ignore[arg-type]
    generate_org(tmp_path / "c", seed=12, **options)  # type: ignore[arg-type]
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_org_has_every_object_valid_ids_and_a_hierarchy(emulator_org: Path) -> None:
    for name in OBJECTS:
        rows = _read(emulator_org, name)
        assert rows, name
        assert all(is_valid_id(r["Id"]) and len(r["Id"]) == 18 for r in rows), name
        assert all(r["Id"].startswith(KEY_PREFIXES[name]) for r in rows), name
    users = _read(emulator_org, "User")
    vp = [u for u in users if not u["ManagerId"]]
    assert len(vp) == 1
    managers = [u for u in users if u["ManagerId"] == vp[0]["Id"]]
    assert len(managers) == 2
    reps = [u for u in users if u["ManagerId"] in {m["Id"] for m in managers}]
    assert len(reps) == 6
    assert [u["IsActive"] for u in reps].count("false") == 1


def test_stages_wins_losses_history_and_activities_look_real(emulator_org: Path) -> None:
    stages = _read(emulator_org, "OpportunityStage")
    assert [s["ApiName"] for s in sorted(stages, key=lambda s: int(s["SortOrder"]))][-2:] == [
        "Closed Won",
        "Closed Lost",
    ]
    opps = _read(emulator_org, "Opportunity")
    assert any(o["Amount"] == "" for o in opps)
    assert any(o["Amount"] for o in opps)
    assert {o["StageName"] for o in opps} >= {"Closed Won", "Closed Lost"}
    history = _read(emulator_org, "OpportunityHistory")
    by_opp: dict[str, list[dict[str, str]]] = {}
    for h in history:
        by_opp.setdefault(h["OpportunityId"], []).append(h)
    lost_at = Counter()
    for opp in opps:
        rows = by_opp[opp["Id"]]
        created = [r["CreatedDate"] for r in rows]
        assert created == sorted(created)
        assert len(set(created)) == len(created)
        assert rows[-1]["StageName"] == opp["StageName"]
        if opp["StageName"] == "Closed Lost":
            lost_at[rows[-2]["StageName"]] += 1
    assert len(lost_at) >= 3  # losses happen at varied stages
    win_rates = {}
    for owner in {o["OwnerId"] for o in opps}:
        closed = [o for o in opps if o["OwnerId"] == owner and o["IsClosed"] == "true"]
        win_rates[owner] = sum(o["IsWon"] == "true" for o in closed) / max(1, len(closed))
    assert max(win_rates.values()) - min(win_rates.values()) > 0.15  # reps differ
    tasks = _read(emulator_org, "Task")
    assert {t["TaskSubtype"] for t in tasks} == {"Call", "Email", "Task"}
    assert any(t["IsArchived"] == "true" for t in tasks)
    assert any(t["IsDeleted"] == "true" for t in tasks)
    assert all((t["Status"] == "Completed") == (t["IsClosed"] == "true") for t in tasks)
    assert all(
        t["CallDurationInSeconds"] for t in tasks if t["TaskSubtype"] == "Call" and t["IsClosed"] == "true"
    )
    events = _read(emulator_org, "Event")
    assert all(e["StartDateTime"] < e["EndDateTime"] for e in events)


def test_no_timestamp_lies_in_the_future_of_the_end_day(tmp_path: Path) -> None:
    # Salesforce stamps records when they are written: an org has no SystemModstamp ahead of
    # now, and an incremental sync's window must not keep catching such records.
    end = date(2026, 3, 31)
    generate_org(tmp_path, reps=4, managers=1, months=2, end=end, seed=5, activities_per_rep_week=40)
    end_starts = "2026-03-31T00:00:00.000Z"
    stamps = ("CreatedDate", "LastModifiedDate", "SystemModstamp", "CompletedDateTime")
    tasks = _read(tmp_path, "Task")
    assert any(t["ActivityDate"] == end.isoformat() and t["IsClosed"] == "true" for t in tasks)
    for name in OBJECTS:
        for row in _read(tmp_path, name):
            late = {f: row[f] for f in stamps if row.get(f) and row[f] >= end_starts}
            assert not late, (name, row["Id"], late)
    # Nor do many share an object's newest stamp (an incremental window starts there, inclusive).
    for name in ("User", "OpportunityStage", "Task", "Event"):
        rows = _read(tmp_path, name)
        newest = max(r["SystemModstamp"] for r in rows)
        assert sum(r["SystemModstamp"] == newest for r in rows) < 5, name


def test_opportunities_per_rep_month_sets_the_deal_volume(tmp_path: Path) -> None:
    # 40 reps x 6 months: the default averages 6.5 starts a rep-month (x 0.6-1.2 by skill, 0.975
    # on average), so about 40 * 6 * 6.5 * 0.975 = 1,521; four times the rate, four times the deals.
    options = {"reps": 40, "managers": 4, "months": 6, "end": date(2026, 3, 31), "activities_per_rep_week": 1}
    default = generate_org(tmp_path / "default", seed=3, **options)  # type: ignore[arg-type]
    busy = generate_org(tmp_path / "busy", seed=3, opportunities_per_rep_month=26, **options)  # type: ignore[arg-type]
    assert 1_200 < default.counts["Opportunity"] < 1_850
    assert 3.4 < busy.counts["Opportunity"] / default.counts["Opportunity"] < 4.6
