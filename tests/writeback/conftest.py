"""Write-back environments: a private emulator and a fresh database (the sync and the sender
commit), the real API on that database with an admin key, and ground truth read from the
emulator with a plain simple-salesforce client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from simple_salesforce.api import Salesforce
from sqlalchemy import text

from salescoach_api.app import create_app
from salescoach_api.dependencies import get_now
from salescoach_core.api_keys import create_api_key
from salescoach_core.database import Database, session_scope
from salescoach_core.roles import Role
from tests.plugins.sync import *  # noqa: F403
from tests.plugins.sync import SyncEnv, SyncEnvFactory

TASK_FIELDS = "Id, OwnerId, Subject, Description, ActivityDate, Status, IsClosed, WhatId, Salescoach_Id__c"
PUBLIC_URL = "https://coach.example.com"


@dataclass
class CoachingEnv:
    sync: SyncEnv
    api: TestClient

    def ok(self, response: Any, status: int = 200) -> Any:
        assert response.status_code == status, response.text
        return response.json()

    def today(self) -> date:
        return datetime.now(UTC).date()

    def set_clock(self, moment: datetime | None) -> None:
        """The API's clock at `moment` from now on; None: the real clock again."""
        overrides = self.api.app.dependency_overrides  # type: ignore[attr-defined]
        if moment is None:
            overrides.pop(get_now, None)
        else:
            overrides[get_now] = lambda: moment

    def rep_with_opportunity(self) -> tuple[str, str]:
        """A rep (has a manager, active) and one of their opportunities."""
        with self.sync.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT u.id, o.id FROM sf_user u JOIN sf_opportunity o ON o.owner_id = u.id"
                    " WHERE u.is_active AND u.manager_id IS NOT NULL AND NOT o.is_deleted"
                    " ORDER BY u.id, o.id LIMIT 1"
                )
            ).one()
        return str(row[0]), str(row[1])

    def manager_of(self, rep_id: str) -> str:
        with self.sync.engine.connect() as conn:
            return str(
                conn.execute(
                    text("SELECT manager_id FROM sf_user WHERE id = :id"), {"id": rep_id}
                ).scalar_one()
            )

    def schedule(self, rep_id: str) -> dict[str, Any]:
        now = datetime.now(UTC)
        body = {
            "scheduled_at": (now - timedelta(hours=1)).isoformat(),
            "duration_minutes": 45,
            "coach_id": self.manager_of(rep_id),
        }
        return self.ok(self.api.post(f"/v1/reps/{rep_id}/sessions", json=body), 201)  # type: ignore[no-any-return]

    def item(self, session_id: str, **fields: Any) -> dict[str, Any]:
        body = {"description": "Follow up", **fields}
        if isinstance(body.get("due_date"), date):
            body["due_date"] = body["due_date"].isoformat()
        return self.ok(self.api.post(f"/v1/sessions/{session_id}/action-items", json=body), 201)  # type: ignore[no-any-return]

    def hold(self, session_id: str) -> dict[str, Any]:
        follow_up = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        return self.ok(self.api.post(f"/v1/sessions/{session_id}/hold", json={"follow_up_at": follow_up}))  # type: ignore[no-any-return]

    def tasks_by_key(self, sf: Salesforce | None = None) -> dict[str, list[dict[str, Any]]]:
        """Every Task carrying a salescoach key, grouped by key (a duplicate shows as 2 entries)."""
        sf = sf or self.sync.salesforce()
        soql = (
            f"SELECT {TASK_FIELDS} FROM Task WHERE Salescoach_Id__c LIKE 'ai-%'"
            " OR Salescoach_Id__c LIKE 'goal-%'"
        )
        grouped: dict[str, list[dict[str, Any]]] = {}
        for record in sf.query_all(soql)["records"]:
            grouped.setdefault(str(record["Salescoach_Id__c"]), []).append(record)
        return grouped

    def complete_task(self, task_id: str, sf: Salesforce | None = None) -> None:
        """What the rep does in Salesforce: mark the Task completed (REST update)."""
        sf = sf or self.sync.salesforce()
        sf.restful(f"sobjects/Task/{task_id}", method="PATCH", json={"Status": "Completed"})

    def outbox_count(self) -> int:
        return self.sync.table_count("writeback_outbox")


CoachingEnvFactory = Callable[..., CoachingEnv]


@pytest.fixture
def coaching_env_factory(sync_env_factory: SyncEnvFactory) -> Iterator[CoachingEnvFactory]:
    """A synced SyncEnv (settings overrides as keywords) with an API client on its database."""
    with ExitStack() as stack:

        def build(**options: Any) -> CoachingEnv:
            options.setdefault("writeback_backoff_seconds", 0)
            options.setdefault("public_url", PUBLIC_URL)
            env = sync_env_factory(**options)
            report = env.run()
            assert report.ok, report.first_error
            with session_scope(env.engine) as session:
                key = create_api_key(session, name="e2e admin", role=Role.ADMIN, sf_user_id=None).plaintext
            app = create_app(env.settings, Database.from_engine(env.settings, env.engine))
            client = stack.enter_context(
                TestClient(app, raise_server_exceptions=False, headers={"Authorization": f"Bearer {key}"})
            )
            return CoachingEnv(env, client)

        yield build
