"""Injected faults: the spec language, seeded reproducibility, and each kind on the wire."""

from __future__ import annotations

import time

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)

from salescoach_emulator.faults import FaultEngine, FaultSpecError, parse_spec
from tests.plugins.emulator import EmulatorFactory, client_session, salesforce_client


def test_spec_parses_every_kind() -> None:
    plan = parse_spec(
        "seed=42, 503@0.2/services/data/v62.0/jobs, delay=1.5@0.1, drop@0.05, limit=10, lock, expire"
    )
    assert plan.seed == 42
    assert plan.limit_after == 10
    assert plan.expire_now
    kinds = [(r.kind, r.rate, r.status, r.seconds, r.path) for r in plan.rules]
    assert kinds == [
        ("status", 0.2, 503, 0.0, "/services/data/v62.0/jobs"),
        ("delay", 0.1, 0, 1.5, ""),
        ("drop", 0.05, 0, 0.0, ""),
        ("lock", 1.0, 0, 0.0, ""),
    ]


@pytest.mark.parametrize("spec", ["boom", "503@2", "drop=3", "200@0.5", "delay@0.1"])
def test_bad_spec_is_refused(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_spec(spec)


def test_same_seed_same_faults() -> None:
    def sequence(seed: int) -> list[int]:
        engine = FaultEngine()
        engine.configure(f"seed={seed},500@0.3")
        return [engine.decide("/services/data/v62.0/query", is_write=False).status for _ in range(200)]

    first = sequence(7)
    assert first == sequence(7)
    assert first != sequence(8)
    assert 30 < first.count(500) < 90


def test_status_faults_on_the_wire_are_reproducible(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory()
    sf = salesforce_client(emu)

    def outcomes() -> list[int]:
        emu.set_faults("seed=3,503@0.5/services/data")
        seen = []
        for _ in range(30):
            try:
                sf.query("SELECT Id FROM User LIMIT 1")
                seen.append(200)
            except SalesforceError as exc:
                seen.append(exc.status)
        return seen

    first = outcomes()
    assert first == outcomes()
    assert set(first) == {200, 503}
    emu.set_faults("")
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] > 0


def test_drop_closes_the_connection_without_a_response(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(faults="drop/services/data/v62.0/limits")
    session = client_session(emu)
    token = emu.access_token()  # the OAuth endpoint is outside the rule's path
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(
            f"{emu.instance_url}/services/data/v62.0/limits", headers={"Authorization": f"Bearer {token}"}
        )
    assert emu.stats()["faults"]["drop"] == 1


def test_delay_makes_client_timeouts_happen(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(faults="delay=1/services/data/v62.0/limits")
    session = client_session(emu)
    headers = {"Authorization": f"Bearer {emu.access_token()}"}
    with pytest.raises(requests.exceptions.ReadTimeout):
        session.get(f"{emu.instance_url}/services/data/v62.0/limits", headers=headers, timeout=0.3)
    started = time.monotonic()
    assert session.get(f"{emu.instance_url}/services/data/v62.0/limits", headers=headers).status_code == 200
    assert time.monotonic() - started >= 1.0


def test_request_limit_exceeded_after_n_calls(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(daily_api_limit=1000, faults="limit=3")
    sf = salesforce_client(emu)
    for _ in range(3):
        sf.query("SELECT Id FROM User LIMIT 1")
    assert sf.api_usage["api-usage"].used == 1000
    with pytest.raises(SalesforceRefusedRequest) as caught:
        sf.query("SELECT Id FROM User LIMIT 1")
    assert caught.value.status == 403
    assert caught.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    emu.set_api_usage(0)
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] > 0


def test_expire_invalidates_issued_tokens(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory()
    sf = salesforce_client(emu)
    sf.query("SELECT Id FROM User LIMIT 1")
    assert emu.set_faults("expire")["revokedTokens"] >= 1
    with pytest.raises(SalesforceExpiredSession):
        sf.query("SELECT Id FROM User LIMIT 1")


def test_lock_fault_fails_writes_but_not_reads(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(faults="lock")
    sf = salesforce_client(emu)
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] > 0
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Task.create({"Subject": "x"})
    assert caught.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    emu.set_faults("seed=1,lock@0.5/services/data/v62.0/composite")
    results = sf.restful(
        "composite/sobjects",
        method="POST",
        json={"records": [{"attributes": {"type": "Task"}, "Subject": str(i)} for i in range(20)]},
    )
    codes = {r["errors"][0]["statusCode"] for r in results if not r["success"]}
    assert codes == {"UNABLE_TO_LOCK_ROW"}
    assert 0 < sum(r["success"] for r in results) < 20


def test_querytimeout_fails_bulk_jobs_that_select_too_much(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(faults="querytimeout=3")
    assert parse_spec("querytimeout=3").query_timeout_rows == 3
    session = client_session(emu)
    session.headers["Authorization"] = f"Bearer {emu.access_token()}"
    base = f"{emu.instance_url}/services/data/v62.0/jobs/query"

    def finished(soql: str) -> dict[str, object]:
        job = session.post(base, json={"operation": "query", "query": soql}).json()
        for _ in range(200):
            info: dict[str, object] = session.get(f"{base}/{job['id']}").json()
            if info["state"] in ("JobComplete", "Failed"):
                return info
            time.sleep(0.01)
        raise AssertionError("job never finished")

    failed = finished("SELECT Id FROM User")
    assert failed["state"] == "Failed"
    assert str(failed["errorMessage"]).startswith("QUERY_TIMEOUT")
    assert finished("SELECT Id FROM User LIMIT 2")["state"] == "JobComplete"
