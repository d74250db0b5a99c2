"""Loss analysis against values computed by hand from docs/domain.md, "Efficiencies"."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient

from salescoach_core.models import SfUser
from tests.analytics.conftest import at
from tests.plugins.factories import Factory


@pytest.fixture
def alice(factory: Factory, stages: tuple[str, ...]) -> SfUser:
    maya = factory.user("Maya Manager")
    alice = factory.user("Alice Adams", manager=maya)

    # Lost at Proposal: its last non-closed history row. 09-01 -> 10-10 = 39 days.
    l1 = factory.opportunity(
        alice, created=at("2026-09-01"), amount=1000, lost=True, close=date(2026, 10, 10)
    )
    factory.history(l1, stage="Prospecting", at=at("2026-09-01"))
    factory.history(l1, stage="Qualification", at=at("2026-09-05"))
    factory.history(l1, stage="Proposal", at=at("2026-09-20"))
    factory.history(l1, stage="Closed Lost", at=at("2026-10-10"))
    # Lost at Prospecting. 4 days.
    l2 = factory.opportunity(alice, created=at("2026-10-01"), amount=2000, lost=True, close=date(2026, 10, 5))
    factory.history(l2, stage="Prospecting", at=at("2026-10-01"))
    factory.history(l2, stage="Closed Lost", at=at("2026-10-05"))
    # No history and already 'Closed Lost': the loss stage is unknown. 10 days.
    factory.opportunity(alice, created=at("2026-10-02"), amount=500, lost=True, close=date(2026, 10, 12))
    # No history, own stage open (Qualification): that is the loss stage. No amount. 30 days.
    factory.opportunity(
        alice, created=at("2026-09-20"), lost=True, close=date(2026, 10, 20), stage="Qualification"
    )
    # The deleted Negotiation row does not count: lost at Prospecting. 35 days.
    l5 = factory.opportunity(
        alice, created=at("2026-09-10"), amount=3000, lost=True, close=date(2026, 10, 15)
    )
    factory.history(l5, stage="Prospecting", at=at("2026-09-10"))
    factory.history(l5, stage="Negotiation", at=at("2026-09-15"), deleted=True)
    factory.history(l5, stage="Closed Lost", at=at("2026-10-15"))
    # Rows stored out of order: CreatedDate decides, so Negotiation is last. 09-05 -> 10-25 = 50 days.
    l6 = factory.opportunity(
        alice, created=at("2026-09-05"), amount=4000, lost=True, close=date(2026, 10, 25)
    )
    factory.history(l6, stage="Closed Lost", at=at("2026-10-25"))
    factory.history(l6, stage="Negotiation", at=at("2026-09-25"))
    factory.history(l6, stage="Qualification", at=at("2026-09-10"))

    # Not counted: deleted, lost in November, won in October.
    deleted = factory.opportunity(
        alice, created=at("2026-10-01"), amount=9000, lost=True, close=date(2026, 10, 3), deleted=True
    )
    factory.history(deleted, stage="Prospecting", at=at("2026-10-01"))
    factory.opportunity(alice, created=at("2026-10-01"), amount=9000, lost=True, close=date(2026, 11, 1))
    factory.opportunity(alice, created=at("2026-10-01"), amount=9000, won=True, close=date(2026, 10, 9))
    return alice


def loss(client: TestClient, rep: SfUser, **params: str) -> dict[str, Any]:
    response = client.get(f"/v1/reps/{rep.id}/loss-analysis", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_losses_by_stage_in_sort_order_with_unknown_last(client: TestClient, alice: SfUser) -> None:
    body = loss(client, alice, period="2026-10")
    assert [(b["stage"], b["count"], b["amount"], b["early"]) for b in body["by_stage"]] == [
        ("Prospecting", 2, 5000.0, True),  # l2 2000 + l5 3000
        ("Qualification", 1, 0.0, True),  # own stage, no amount
        ("Proposal", 1, 1000.0, False),
        ("Negotiation", 1, 4000.0, False),
        (None, 1, 500.0, None),
    ]
    assert body["lost_count"] == 6
    assert body["lost_amount"] == 10500.0
    # (39 + 4 + 10 + 30 + 35 + 50) / 6 = 168 / 6
    assert body["mean_days_to_loss"] == 28.0
    # Early (Prospecting, Qualification): 3 of the 5 losses with a known open stage.
    assert body["early_loss_share"] == 0.6
    assert body["early_stages"] == ["Prospecting", "Qualification"]


def test_odd_stage_count_middle_stage_is_not_early(
    client: TestClient, factory: Factory, stages: tuple[str, ...]
) -> None:
    # Five open stages: the first half is the first two; Demo (third, the middle) is not early.
    factory.stage("Demo", sort_order=25)
    factory.stage("Legacy", sort_order=5, active=False)
    rep = factory.user("Rita Rep", manager=factory.user("Mo Manager"))
    for stage in ("Demo", "Qualification", "Legacy"):
        opportunity = factory.opportunity(
            rep, created=at("2026-10-01"), amount=100, lost=True, close=date(2026, 10, 2)
        )
        factory.history(opportunity, stage=stage, at=at("2026-10-01"))

    body = loss(client, rep, **{"from": "2026-10-01", "to": "2026-10-03"})
    assert body["early_stages"] == ["Prospecting", "Qualification"]
    stages_served = [(b["stage"], b["count"], b["is_open_stage"]) for b in body["by_stage"]]
    assert stages_served == [
        ("Prospecting", 0, True),
        ("Qualification", 1, True),
        ("Demo", 1, True),
        ("Proposal", 0, True),
        ("Negotiation", 0, True),
        ("Legacy", 1, False),  # an inactive stage: served, but in neither half
    ]
    # Qualification early, Demo not; Legacy is left out of the share: 1 / 2.
    assert body["early_loss_share"] == 0.5
    assert body["mean_days_to_loss"] == 1.0


def test_no_losses_gives_null_share_and_mean(client: TestClient, alice: SfUser) -> None:
    body = loss(client, alice, period="2026-08")
    assert body["lost_count"] == 0
    assert body["early_loss_share"] is None
    assert body["mean_days_to_loss"] is None
    assert all(b["count"] == 0 for b in body["by_stage"])


def test_bad_period_is_422(client: TestClient, alice: SfUser) -> None:
    response = client.get(f"/v1/reps/{alice.id}/loss-analysis", params={"period": "2026-13"})
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_period"
