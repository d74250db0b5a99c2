"""Reps, teams and quotas: listing, paging, scope, and all-or-nothing bulk loads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlmodel import Session, col

from salescoach_core.models import SfUser
from salescoach_core.reps import rep_condition
from tests.plugins.factories import Factory


def test_reps_are_active_users_with_an_opportunity_or_a_manager(client: TestClient, factory: Factory) -> None:
    boss = factory.user("Boss")  # no manager, no opportunity: not a rep
    member = factory.user("Member", manager=boss)
    owner = factory.user("Owner")
    factory.opportunity(owner, created=datetime(2026, 10, 1, tzinfo=UTC))
    factory.user("Former", manager=boss, active=False)
    ids = [rep["id"] for rep in client.get("/v1/reps").json()["items"]]
    assert set(ids) >= {member.id, owner.id}
    assert boss.id not in ids
    assert all(client.get(f"/v1/reps/{rep_id}").status_code == 200 for rep_id in (member.id, owner.id))
    assert client.get(f"/v1/reps/{boss.id}").status_code == 404


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(node for child in plan.get("Plans", []) for node in _nodes(child))]


def test_whether_a_user_owns_an_opportunity_is_an_index_probe(db_session: Session, factory: Factory) -> None:
    # Every rep read asks it (get_rep): a scan of sf_opportunity costs in proportion to the org
    # (0.35 s more per rep scorecard at 200k opportunities than at 5k, tests/bench/test_scale_bench.py).
    # The opportunity indexes hold the rows `WHERE NOT is_deleted`: the condition must say so, or
    # no index can serve it. (Whether the planner then probes per user or hashes the index is
    # its cost choice: on these few rows it may hash, on a large org it probes, 0.23 ms at 10M.)
    owner = factory.user("Owner")
    factory.opportunity(owner, created=datetime(2026, 10, 1, tzinfo=UTC))
    query = select(SfUser).where(col(SfUser.id) == owner.id, rep_condition())  # type: ignore[arg-type]
    sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
    db_session.execute(text("SET LOCAL enable_seqscan = off"))  # an index, if any can serve
    (plan,) = db_session.execute(text(f"EXPLAIN (FORMAT JSON) {sql}")).scalar_one()
    on_opportunities = [n for n in _nodes(plan["Plan"]) if n.get("Relation Name") == "sf_opportunity"]
    assert on_opportunities, json.dumps(plan)
    assert all(n["Node Type"] in ("Index Only Scan", "Index Scan") for n in on_opportunities), json.dumps(
        plan
    )
    assert db_session.scalars(query).one().id == owner.id


def test_rep_list_pages_with_an_opaque_cursor(client: TestClient, factory: Factory) -> None:
    boss = factory.user("Boss")
    made = {factory.user(f"Rep {i}", manager=boss).id for i in range(5)}
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/reps", params=params).json()
        seen.extend(rep["id"] for rep in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert made <= set(seen)
    assert len(seen) == len(set(seen))
    assert seen == sorted(seen)
    bad = client.get("/v1/reps", params={"cursor": "%%%"})
    assert bad.status_code == 422
    assert bad.json()["code"] == "invalid_cursor"


def test_team_lists_direct_reports_and_org_everyone_below(client: TestClient, factory: Factory) -> None:
    vp = factory.user("VP")
    manager = factory.user("Manager", manager=vp)
    rep = factory.user("Rep", manager=manager)
    team = client.get(f"/v1/teams/{vp.id}").json()
    org = client.get(f"/v1/teams/{vp.id}", params={"scope": "org"}).json()
    assert [m["id"] for m in team["members"]] == [manager.id]
    assert {m["id"] for m in org["members"]} == {manager.id, rep.id}


def test_org_closure_survives_a_manager_cycle(
    client: TestClient, factory: Factory, db_session: object
) -> None:
    first = factory.user("First")
    second = factory.user("Second", manager=first)
    first.manager_id = second.id  # bad data in Salesforce must not loop forever
    factory.session.flush()
    org = client.get(f"/v1/teams/{first.id}", params={"scope": "org"}).json()
    assert [m["id"] for m in org["members"]] == [second.id]


def rep_under(factory: Factory) -> SfUser:
    return factory.user("Quota Rep", manager=factory.user("Boss"))


def test_put_quota_creates_then_replaces(client: TestClient, factory: Factory) -> None:
    rep = rep_under(factory)
    first = client.put(f"/v1/reps/{rep.id}/quotas/2026-10", json={"amount": 50000})
    assert first.status_code == 200
    assert first.json()["amount"] == 50000.0
    client.put(f"/v1/reps/{rep.id}/quotas/2026-10", json={"amount": "61000.50"})
    client.put(f"/v1/reps/{rep.id}/quotas/2026-11", json={"amount": 1})
    listed = client.get(f"/v1/reps/{rep.id}/quotas").json()["items"]
    assert [(q["month"], q["amount"]) for q in listed] == [("2026-10", 61000.5), ("2026-11", 1.0)]


def test_put_quota_rejects_bad_month_and_amount(client: TestClient, factory: Factory) -> None:
    rep = rep_under(factory)
    bad_month = client.put(f"/v1/reps/{rep.id}/quotas/2026-13", json={"amount": 1})
    assert (bad_month.status_code, bad_month.json()["code"]) == (422, "invalid_month")
    negative = client.put(f"/v1/reps/{rep.id}/quotas/2026-10", json={"amount": -5})
    assert (negative.status_code, negative.json()["code"]) == (422, "validation_failed")
    assert negative.json()["errors"][0]["loc"] == ["body", "amount"]
    unknown = client.put("/v1/reps/005000000000000AAA/quotas/2026-10", json={"amount": 1})
    assert unknown.status_code == 404


def test_bulk_quotas_are_all_or_nothing_and_name_the_bad_rows(client: TestClient, factory: Factory) -> None:
    rep = rep_under(factory)
    rows = [
        {"rep_id": rep.id, "month": "2026-10", "amount": 100},
        {"rep_id": "005000000000000AAA", "month": "2026-11", "amount": 100},
        {"rep_id": rep.id, "month": "2026-10", "amount": 200},
    ]
    response = client.put("/v1/quotas", json=rows)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid_quota_rows"
    assert {(e["row"], e["field"]) for e in body["row_errors"]} == {(2, "rep_id"), (3, "month")}
    assert "rows 2, 3" in body["detail"]
    assert client.get(f"/v1/reps/{rep.id}/quotas").json()["items"] == []

    good = client.put("/v1/quotas", json=[rows[0], {**rows[0], "month": "2026-11"}])
    assert good.json() == {"written": 2}


def test_csv_upload_loads_quotas_and_reports_rows(client: TestClient, factory: Factory) -> None:
    rep = rep_under(factory)
    content = f"rep_id,month,amount\n{rep.id[:15]},2026-10,1000\n{rep.id},2026-11,2000.25\n"
    response = client.post("/v1/quotas/import", files={"file": ("q.csv", content, "text/csv")})
    assert response.json() == {"written": 2}
    listed = client.get(f"/v1/reps/{rep.id}/quotas").json()["items"]
    assert [q["amount"] for q in listed] == [1000.0, 2000.25]

    broken = "rep_id,month,amount\n" + f"{rep.id},2026-12,12.345\n" + f"{rep.id},October,5\n"
    rejected = client.post("/v1/quotas/import", files={"file": ("q.csv", broken, "text/csv")})
    assert rejected.status_code == 422
    assert {(e["row"], e["field"]) for e in rejected.json()["row_errors"]} == {(1, "amount"), (2, "month")}

    wrong_header = client.post("/v1/quotas/import", files={"file": ("q.csv", "rep,month\n", "text/csv")})
    assert wrong_header.status_code == 422
    assert "rep_id,month,amount" in wrong_header.json()["detail"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"\r0", "header must be exactly"),  # a lone carriage return (found by schemathesis)
        (b'rep_id,month,amount\n"' + b"x" * 200_000 + b'",2026-10,5\n', "cannot be read at line"),
    ],
)
def test_csv_the_reader_cannot_parse_is_a_422_that_says_why(
    client: TestClient, content: bytes, says: str
) -> None:
    response = client.post("/v1/quotas/import", files={"file": ("q.csv", content, "text/csv")})
    assert response.status_code == 422
    assert says in response.json()["detail"]


def test_activity_requirements_replace_and_drive_process_to_requirement(
    client: TestClient, factory: Factory
) -> None:
    boss = factory.user("Boss")
    rep = factory.user("Rep", manager=boss)
    factory.task(rep, subtype="Call", completed=datetime(2026, 10, 2, tzinfo=UTC))
    document = {"default": {"calls_per_week": 5}, "teams": {boss.id[:15]: {"calls_per_week": 7}}}
    stored = client.put("/v1/activity-requirements", json=document).json()
    assert stored["teams"] == {
        boss.id: {"calls_per_week": 7.0, "emails_per_week": None, "meetings_per_week": None}
    }
    card = client.get(f"/v1/reps/{rep.id}/scorecard", params={"period": "2026-10"}).json()
    # The team's 7 calls a week apply, not the default 5: 31 days need 31 calls; 1 was made.
    assert card["process_to_requirement"] == round(1 / 31, 4)

    unknown = client.put("/v1/activity-requirements", json={"teams": {"005000000000000AAA": {}}})
    assert (unknown.status_code, unknown.json()["code"]) == (422, "unknown_manager")
    assert client.get("/v1/activity-requirements").json()["teams"] == stored["teams"]


def test_quota_months_outside_the_supported_years_are_rejected(client: TestClient, factory: Factory) -> None:
    rep = rep_under(factory)
    bulk = client.put("/v1/quotas", json=[{"rep_id": rep.id, "month": "0000-01", "amount": 0}])
    assert bulk.status_code == 422
    single = client.put(f"/v1/reps/{rep.id}/quotas/9999-12", json={"amount": 1})
    assert (single.status_code, single.json()["code"]) == (422, "invalid_month")
