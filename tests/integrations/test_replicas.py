"""Several processes on one database behave as one service: three `salescoach api serve` and two
sync workers against the emulator, requests sent round-robin. The rate limit is global, an
Idempotency-Key and an ETag hold on another replica, each webhook event is delivered once, and a
kill -9 of the worker holding an object's lock hands the object to the other worker."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import cycle
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlmodel import Session

from salescoach_core.api_keys import create_api_key
from salescoach_core.roles import Role
from tests.cli.test_commands import free_port
from tests.integrations.conftest import Receiver
from tests.plugins.auth import clear_of_a_minute_boundary
from tests.plugins.sync import FIELDS, SyncEnv, SyncEnvFactory, assert_matches_org, log_events

API_REPLICAS = 3
RATE_LIMIT = 30
INTERVAL_SECONDS = 2.0
# As in tests/sync/test_processes.py: each Bulk job call is slowed a little, so a kill right after
# a page is loaded lands while the object is still in progress; pages are small for the same reason.
SLOW_JOBS = "delay=0.15@1/services/data/v62.0/jobs"
WORKER_ENV = {
    "SALESCOACH_LOG_LEVEL": "DEBUG",
    "SALESCOACH_SYNC_BULK_PAGE_RECORDS": "250",
    "SALESCOACH_SYNC_CONCURRENCY": "1",
    "SALESCOACH_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
}
Event = dict[str, Any]


@dataclass
class Worker:
    """A `sync worker` process and the JSON events of its stderr, read by a thread as they come,
    each with the monotonic time it was read."""

    name: str
    process: subprocess.Popen[str]
    events: list[tuple[float, Event]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            for event in log_events([line]):
                self.events.append((time.monotonic(), event))

    def seen(self, predicate: Callable[[Event], bool]) -> list[tuple[float, Event]]:
        return [(at, e) for at, e in list(self.events) if predicate(e)]


def wait_for(what: str, condition: Callable[[], Any], timeout: float, workers: list[Worker]) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.02)
    tails = "\n".join(f"--- {w.name}\n" + "".join(w.lines[-15:]) for w in workers)
    raise AssertionError(f"not within {timeout} s: {what}\n{tails}")


def event_is(name: str, object_name: str | None = None) -> Callable[[Event], bool]:
    return lambda e: e["event"] == name and (object_name is None or e.get("object") == object_name)


@dataclass
class Service:
    env: SyncEnv
    api_urls: list[str]
    admin: dict[str, str]
    rate_key: dict[str, str]
    workers: list[Worker]
    spawn_worker: Callable[[str], Worker]


@pytest.fixture
def service(sync_env_factory: SyncEnvFactory, tmp_path: Path) -> Iterator[Service]:
    env = sync_env_factory(faults=SLOW_JOBS)
    with Session(env.engine) as session:
        admin = create_api_key(session, name="replicas admin", role=Role.ADMIN, sf_user_id=None)
        limited = create_api_key(session, name="replicas limited", role=Role.INTEGRATION, sf_user_id=None)
        session.commit()
    with ExitStack() as stack:

        def stop(process: subprocess.Popen[str]) -> None:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

        ports = [free_port() for _ in range(API_REPLICAS)]
        for index, port in enumerate(ports):
            log_file = stack.enter_context((tmp_path / f"api-{index}.log").open("w"))
            api = subprocess.Popen(
                [sys.executable, "-m", "salescoach_cli", "api", "serve", "--port", str(port)],
                env={
                    **env.process_env(),
                    "SALESCOACH_RATE_LIMIT_PER_MINUTE": str(RATE_LIMIT),
                    "SALESCOACH_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
                },
                cwd=env.work_dir,
                stdout=log_file,
                stderr=log_file,
                text=True,
            )
            stack.callback(stop, api)

        def spawn_worker(name: str) -> Worker:
            worker = Worker(name, env.spawn("worker", "--interval", str(INTERVAL_SECONDS), **WORKER_ENV))
            stack.callback(stop, worker.process)
            return worker

        urls = [f"http://127.0.0.1:{port}" for port in ports]
        for url in urls:
            wait_for(f"{url}/readyz", lambda url=url: _ready(url), 60, [])
        # After the API is up, so the test sees the workers' first pass from its start.
        workers = [spawn_worker("worker-a"), spawn_worker("worker-b")]
        yield Service(
            env=env,
            api_urls=urls,
            admin={"Authorization": f"Bearer {admin.plaintext}"},
            rate_key={"Authorization": f"Bearer {limited.plaintext}"},
            workers=workers,
            spawn_worker=spawn_worker,
        )


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


@pytest.mark.timeout(110)
def test_three_api_replicas_and_two_workers_on_one_database_behave_as_one_service(
    service: Service, receiver: Receiver
) -> None:
    started = time.monotonic()
    workers = service.workers

    # --- Worker failover: kill -9 the worker holding Task's lock in the middle of its full sync.
    loading_task = event_is("sync_page_loaded", "Task")
    holder = wait_for(
        "a worker loading Task", lambda: next((w for w in workers if w.seen(loading_task)), None), 60, workers
    )
    survivor = next(w for w in workers if w is not holder)
    holder.process.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    holder.process.wait(timeout=30)
    assert holder.process.returncode == -signal.SIGKILL
    assert not holder.seen(event_is("sync_object_finished", "Task")), "Task finished before the kill"
    passes_before = [
        e["pass_number"] for at, e in survivor.seen(lambda e: "pass_number" in e) if at <= killed_at
    ]
    pass_at_kill = max(passes_before, default=0)

    takeover_at, takeover = wait_for(
        "the other worker starting Task",
        lambda: next(iter(survivor.seen(event_is("sync_object_started", "Task"))), None),
        30,
        workers,
    )
    finished_at, finished = wait_for(
        "the other worker finishing Task",
        lambda: next(iter(survivor.seen(event_is("sync_object_finished", "Task"))), None),
        60,
        workers,
    )
    # Taken over at the survivor's next pass at the latest: within one interval of its pass.
    assert takeover_at > killed_at
    assert takeover["pass_number"] <= pass_at_kill + 1, (takeover, pass_at_kill)
    assert takeover["mode"] == "full"
    assert finished["status"] == "ok", finished
    wait_for(
        "every object synced",
        lambda: (
            {e["object"] for _, e in survivor.seen(event_is("sync_object_finished"))}
            | {e["object"] for _, e in holder.seen(event_is("sync_object_finished"))}
            >= set(FIELDS)
        ),
        60,
        workers,
    )
    # One writer per object: each object synced in full once (the killed Task never finished).
    full = Counter(
        e["object"]
        for w in workers
        for _, e in w.seen(event_is("sync_object_finished"))
        if e["mode"] == "full" and e["status"] == "ok"
    )
    assert full == Counter(list(FIELDS))
    assert any(w.seen(event_is("sync_object_locked_elsewhere")) for w in workers), "the workers never met"
    assert_matches_org(service.env)
    failover = (takeover_at - killed_at, finished_at - killed_at)

    # A replacement worker (as an orchestrator restarts one), so two deliver webhooks below.
    replacement = service.spawn_worker("worker-c")
    wait_for(
        "the replacement's first pass", lambda: replacement.seen(event_is("sync_pass_finished")), 60, workers
    )

    apis = cycle([httpx.Client(base_url=url, timeout=10) for url in service.api_urls])
    admin = service.admin

    # --- The rate limit is global: RATE_LIMIT successes for the key across all three processes.
    clear_of_a_minute_boundary(service.env.engine)
    statuses = [next(apis).get("/v1/me", headers=service.rate_key).status_code for _ in range(2 * RATE_LIMIT)]
    assert statuses == [200] * RATE_LIMIT + [429] * RATE_LIMIT

    # --- An Idempotency-Key POST replayed on another replica answers the first answer.
    rep_id, coach_id = _rep(service.env)
    now = datetime.now(UTC)
    body = {
        "scheduled_at": (now - timedelta(hours=1)).isoformat(),
        "duration_minutes": 45,
        "coach_id": coach_id,
    }
    key = {**admin, "Idempotency-Key": str(uuid.uuid4())}
    first = next(apis).post(f"/v1/reps/{rep_id}/sessions", json=body, headers=key)
    again = next(apis).post(f"/v1/reps/{rep_id}/sessions", json=body, headers=key)
    assert first.status_code == 201, first.text
    assert (again.status_code, again.headers.get("idempotent-replayed"), again.json()) == (
        201,
        "true",
        first.json(),
    )

    # --- An ETag from one replica is honoured by another.
    path, period = f"/v1/reps/{rep_id}/scorecard", {"period": now.strftime("%Y-%m")}
    tagged = next(apis).get(path, params=period, headers=admin)
    assert tagged.status_code == 200, tagged.text
    unchanged = next(apis).get(
        path, params=period, headers={**admin, "If-None-Match": tagged.headers["etag"]}
    )
    assert (unchanged.status_code, unchanged.content) == (304, b"")

    # --- Each webhook event is delivered once, whichever worker is woken.
    hook = next(apis).post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["session.held"]}, headers=admin
    )
    assert hook.status_code == 201, hook.text
    sessions = [first.json()["id"]]
    for _ in range(3):
        scheduled = next(apis).post(f"/v1/reps/{rep_id}/sessions", json=body, headers=admin)
        assert scheduled.status_code == 201, scheduled.text
        sessions.append(scheduled.json()["id"])
    follow_up = {"follow_up_at": (now + timedelta(days=7)).isoformat()}
    item = {
        "description": "Follow up",
        "owner": "rep",
        "due_date": (now + timedelta(days=7)).date().isoformat(),
    }
    for session_id in sessions:
        added = next(apis).post(f"/v1/sessions/{session_id}/action-items", json=item, headers=admin)
        assert added.status_code == 201, added.text
        held = next(apis).post(f"/v1/sessions/{session_id}/hold", json=follow_up, headers=admin)
        assert held.status_code == 200, held.text
    wait_for("every event delivered", lambda: len(receiver.requests) >= len(sessions), 30, workers)
    time.sleep(INTERVAL_SECONDS + 1)  # a pass of each worker later: a second delivery would be here
    delivered = [json.loads(body)["data"]["session_id"] for _, body in receiver.requests]
    assert sorted(delivered) == sorted(sessions)
    assert len({headers["webhook-id"] for headers, _ in receiver.requests}) == len(sessions)
    with service.env.engine.connect() as conn:
        attempts = conn.execute(text("SELECT status, attempts FROM webhook_delivery")).all()
    assert sorted(tuple(row) for row in attempts) == [("succeeded", 1)] * len(sessions)

    print(
        f"failover: taken over {failover[0]:.2f} s after the kill, Task complete after "
        f"{failover[1]:.2f} s (interval {INTERVAL_SECONDS} s); whole test {time.monotonic() - started:.1f} s"
    )


def _rep(env: SyncEnv) -> tuple[str, str]:
    """An active rep and their manager, who coaches them."""
    with env.engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT r.id, m.id FROM sf_user r JOIN sf_user m ON m.id = r.manager_id"
                " WHERE r.is_active AND m.is_active ORDER BY r.id LIMIT 1"
            )
        ).one()
    return str(row[0]), str(row[1])
