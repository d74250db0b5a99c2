"""DATABASE_REPLICA_URL against a real streaming replica (tests/plugins/replication.py): reads of
the routes declaring `ReadSessionDep` are served by the replica while it is within the lag bound,
by the primary past it or when it is down; writes and authentication always go to the primary.

Which server answered is proved by what it answers: with the replica's replay paused, a row
committed on the primary is missing from the replica's answer and present in the primary's.
"""

from __future__ import annotations

import csv
import io
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import create_engine
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_core.api_keys import create_api_key
from salescoach_core.database import Database, to_sqlalchemy_url
from salescoach_core.database.migrations import upgrade
from salescoach_core.database.replica import ReadReplica
from salescoach_core.models import SfUser
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.plugins.factories import Factory
from tests.plugins.replication import ReplicationPair, replication_pair

DATABASE = "salescoach"
OCTOBER = {"period": "2026-10"}
CREATED = datetime(2026, 9, 1, 9, tzinfo=UTC)


@dataclass
class Cluster:
    pair: ReplicationPair
    settings: Settings
    admin_key: str

    def seed(self, build: Callable[[Factory], Any]) -> Any:
        """Rows committed on the primary; returns what `build` returns."""
        engine = create_engine(to_sqlalchemy_url(self.pair.primary.url(DATABASE)))
        try:
            with Session(engine, expire_on_commit=False) as session:
                built = build(Factory(session))
                session.commit()
            return built
        finally:
            engine.dispose()

    def rep_with_a_won_deal(self) -> str:
        """A rep who won one 10,000 deal closing 2026-10-05, replayed on the replica."""

        def build(factory: Factory) -> str:
            manager = factory.user("Replica Manager")
            rep = factory.user("Replica Rep", manager=manager)
            factory.opportunity(rep, created=CREATED, amount=10000, won=True, close=date(2026, 10, 5))
            return rep.id

        rep_id: str = self.seed(build)
        self.pair.wait_replayed()
        return rep_id

    def win_another(self, rep_id: str) -> None:
        """A second won deal of 5,000 in October, committed on the primary."""

        def build(factory: Factory) -> None:
            rep = factory.session.get(SfUser, rep_id)
            assert rep is not None
            factory.opportunity(rep, created=CREATED, amount=5000, won=True, close=date(2026, 10, 12))

        self.seed(build)

    @contextmanager
    def replay_paused(self) -> Iterator[None]:
        self.pair.replica.execute("SELECT pg_wal_replay_pause()")
        try:
            yield
        finally:
            self.pair.replica.execute("SELECT pg_wal_replay_resume()")


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with replication_pair() as pair, tempfile.TemporaryDirectory(prefix="salescoach-state-") as state:
        pair.primary.execute(f"CREATE DATABASE {DATABASE}")
        settings = Settings(
            database_url=SecretStr(pair.primary.url(DATABASE)),
            database_replica_url=SecretStr(pair.replica.url(DATABASE)),
            state_dir=Path(state),
            rate_limit_per_minute=0,
            # Every answer computed from the database it was read from, not from a cache.
            scorecard_cache_seconds=0,
        )
        engine = create_engine(to_sqlalchemy_url(pair.primary.url(DATABASE)))
        upgrade(engine)
        with Session(engine) as session:
            key = create_api_key(session, name="replica admin", role=Role.ADMIN, sf_user_id=None).plaintext
            session.commit()
        engine.dispose()
        pair.wait_replayed()
        yield Cluster(pair, settings, key)


@pytest.fixture
def api(cluster: Cluster) -> Iterator[Callable[..., TestClient]]:
    """API clients (admin) on apps over the pair, with settings changed as asked."""
    clients: list[TestClient] = []

    def make(key: str | None = None, **changes: Any) -> TestClient:
        app = create_app(cluster.settings.model_copy(update=changes))
        client = TestClient(app, headers={"Authorization": f"Bearer {key or cluster.admin_key}"})
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def won(client: TestClient, rep_id: str) -> tuple[int, float]:
    response = client.get(f"/v1/reps/{rep_id}/scorecard", params=OCTOBER)
    assert response.status_code == 200, response.text
    card = response.json()
    return card["won_count"], card["won_amount"]


def metrics(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        if family.name.startswith("salescoach_replica")
        for sample in family.samples
    }


def reads(client: TestClient) -> tuple[float, float]:
    """Reads served so far by (the replica, the primary in its place)."""
    figures = metrics(client)
    name = "salescoach_replica_reads_total"
    return figures[(name, (("served_by", "replica"),))], figures[(name, (("served_by", "primary"),))]


def replica_readiness(client: TestClient) -> dict[str, Any]:
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ready"
    replica: dict[str, Any] = response.json()["replica"]
    return replica


def wait_for_condition(client: TestClient, condition: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (replica := replica_readiness(client))["condition"] != condition:
        assert time.monotonic() < deadline, f"replica still {replica}, expected {condition}"
        time.sleep(0.1)
    return replica


def test_a_scorecard_read_is_served_by_the_replica(cluster: Cluster, api: Callable[..., TestClient]) -> None:
    client = api(replica_max_lag_seconds=60)
    rep_id = cluster.rep_with_a_won_deal()

    assert won(client, rep_id) == (1, 10000.0)
    assert reads(client) == (1, 0)

    with cluster.replay_paused():
        cluster.win_another(rep_id)
        # The primary has both deals; the replica, replay paused within the bound, has one,
        # and that is what the API answers.
        assert won(client, rep_id) == (1, 10000.0)
        assert reads(client) == (2, 0)
        assert replica_readiness(client)["condition"] == "in_use"

    cluster.pair.wait_replayed()
    assert won(client, rep_id) == (2, 15000.0)
    assert reads(client) == (3, 0)


def test_writes_and_their_read_back_go_to_the_primary(
    cluster: Cluster, api: Callable[..., TestClient]
) -> None:
    rep_id = cluster.rep_with_a_won_deal()
    with cluster.replay_paused():
        # A key created now exists on the primary only: authenticating with it (and recording
        # its use) works because authentication reads and writes the primary.
        key = cluster.seed(
            lambda factory: (
                create_api_key(factory.session, name="new", role=Role.ADMIN, sf_user_id=None).plaintext
            )
        )
        client = api(key=key, replica_max_lag_seconds=60)

        answer = client.put(f"/v1/reps/{rep_id}/quotas/2026-10", json={"amount": 20000})

        # The standby refuses writes, so the quota was written, and read back, on the primary.
        assert answer.status_code == 200, answer.text
        assert float(answer.json()["amount"]) == 20000.0
        assert reads(client) == (0, 0)
        # The list is a replica read: within the bound it may not show the write yet.
        assert client.get(f"/v1/reps/{rep_id}/quotas").json()["items"] == []
        assert reads(client) == (1, 0)

    cluster.pair.wait_replayed()
    assert [float(q["amount"]) for q in client.get(f"/v1/reps/{rep_id}/quotas").json()["items"]] == [20000.0]


def test_a_replica_lagging_past_the_bound_is_not_read(
    cluster: Cluster, api: Callable[..., TestClient]
) -> None:
    client = api(replica_max_lag_seconds=1.0)
    rep_id = cluster.rep_with_a_won_deal()
    with cluster.replay_paused():
        cluster.win_another(rep_id)

        lagging = wait_for_condition(client, "lagging")

        assert lagging["lag_seconds"] > 1.0
        assert lagging["max_lag_seconds"] == 1.0
        assert won(client, rep_id) == (2, 15000.0)  # the primary's answer
        replica_reads, primary_reads = reads(client)
        assert primary_reads == 1
        figures = metrics(client)
        assert figures[("salescoach_replica_lag_seconds", ())] > 1.0
        assert figures[("salescoach_replica_in_use", ())] == 0.0

    caught_up = wait_for_condition(client, "in_use")

    assert caught_up["lag_seconds"] == 0.0
    assert won(client, rep_id) == (2, 15000.0)
    assert reads(client) == (replica_reads + 1, 1)
    assert metrics(client)[("salescoach_replica_lag_seconds", ())] == 0.0

    # The primary now idle: the replica's last replayed commit grows older than the bound while
    # there is nothing to replay. It is still current, and still read.
    replay_age = "SELECT extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())"
    while float(cluster.pair.replica.execute(replay_age, DATABASE)) <= 1.5:  # type: ignore[arg-type]
        time.sleep(0.1)
    time.sleep(1.1)  # past the check interval: the next answer comes from a new check
    assert replica_readiness(client) == {"condition": "in_use", "lag_seconds": 0.0, "max_lag_seconds": 1.0}


def test_a_stopped_replica_is_not_read_and_nothing_fails(
    cluster: Cluster, api: Callable[..., TestClient]
) -> None:
    """Last in the module: it stops the replica."""
    client = api(replica_max_lag_seconds=60)
    rep_id = cluster.rep_with_a_won_deal()
    assert won(client, rep_id) == (1, 10000.0)
    assert reads(client) == (1, 0)
    # A router that checked the replica just before it went away, and will not check again:
    # the connection for the read is what finds it gone.
    settings = cluster.settings
    primary = Database(settings, for_requests=True)
    replica_db = Database(settings, for_requests=True, url=settings.database_replica_url.get_secret_value())  # type: ignore[union-attr]
    checked_before = ReadReplica(primary, replica_db, max_lag_seconds=60, clock=lambda: 0.0)
    assert checked_before.state().usable

    cluster.pair.replica.stop()

    try:
        with checked_before.connect() as conn:
            assert conn is None
        assert checked_before.state().condition == "unreachable"
        assert checked_before.served() == {"replica": 0, "primary": 1}
    finally:
        checked_before.dispose()
        primary.dispose()
    assert won(client, rep_id) == (1, 10000.0)
    export = client.get("/v1/exports/scorecards", params={"from": "2026-10-01", "to": "2026-11-01"})
    assert export.status_code == 200, export.text
    rows = {row["rep_id"]: row for row in csv.DictReader(io.StringIO(export.text))}
    assert float(rows[rep_id]["won_amount"]) == 10000.0
    assert reads(client)[0] == 1
    assert reads(client)[1] >= 2
    assert replica_readiness(client)["condition"] == "unreachable"
    figures = metrics(client)
    assert figures[("salescoach_replica_in_use", ())] == 0.0
    assert ("salescoach_replica_lag_seconds", ()) not in figures
