"""The write-back sender: drains the outbox into Salesforce Tasks (docs/writeback.md).

Each batch: claim up to 200 outbox rows (`FOR UPDATE SKIP LOCKED`, then a lease so the claim
survives the short claiming transaction), read the items' current state, upsert them as Tasks
with one `composite/sobjects` request keyed by the external-id field, and record per item the
Task Id and the version Salesforce acknowledged. The key makes every retry an update, so a
lost response or a crash between send and record can never create a second Task.

Per-record transient errors (UNABLE_TO_LOCK_ROW) are retried with exponential backoff; other
per-record errors (an inactive owner, a validation rule) are permanent: recorded on the item
(visible through the API) and not retried until the item changes again.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from salescoach_core.coaching.goals import describe
from salescoach_core.database import session_scope
from salescoach_core.models import ActionItem, CoachingGoal
from salescoach_core.settings import Settings
from salescoach_sync.client import SalesforceClient
from salescoach_sync.errors import QuotaStop, SalesforceAuthError, SyncError

log = structlog.get_logger(__name__)

TASK = "Task"
SUBJECT_LENGTH = 255
TRANSIENT_RECORD_ERRORS = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE", "REQUEST_RUNNING_TOO_LONG"})

_CLAIM_SQL = text(
    """
    WITH picked AS (
        SELECT id FROM writeback_outbox
        WHERE available_at <= :now AND (claimed_until IS NULL OR claimed_until < :now)
        ORDER BY available_at, id
        LIMIT :limit
        FOR UPDATE SKIP LOCKED
    )
    UPDATE writeback_outbox AS o
    SET claimed_until = :lease, attempts = o.attempts + 1
    FROM picked WHERE o.id = picked.id
    RETURNING o.id, o.item_kind, o.item_id, o.attempts
    """
)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Claim:
    row_id: int
    item_kind: str
    item_id: uuid.UUID
    attempts: int


@dataclass
class WritebackReport:
    """What one run did: the figures logs, the CLI and the benchmark show."""

    sent: int = 0
    failed: int = 0
    retried: int = 0
    requests: int = 0
    batches: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Outgoing:
    claim: Claim
    item: ActionItem | CoachingGoal
    record: dict[str, Any]
    status: str | None


class WritebackSender:
    """Sends outbox rows to Salesforce. Any number may run: claims never overlap."""

    def __init__(self, settings: Settings, engine: Engine, *, client: SalesforceClient | None = None) -> None:
        self._settings = settings
        self._engine = engine
        self._own_client = client is None
        self.client = client or SalesforceClient(settings)

    def close(self) -> None:
        if self._own_client:
            self.client.close()

    def run(self, *, max_batches: int | None = None) -> WritebackReport:
        """Send batches until nothing is due (or `max_batches`). Stops early, rows released, when
        Salesforce refuses the credentials or the quota guard stops."""
        report = WritebackReport()
        started = time.perf_counter()
        while max_batches is None or report.batches < max_batches:
            claims = self._claim()
            if not claims:
                break
            report.batches += 1
            try:
                self._send(claims, report)
            except (QuotaStop, SalesforceAuthError) as exc:
                self._release(claims, error=str(exc))
                report.errors.append(str(exc))
                log.warning("writeback_stopped", code=exc.code, error=str(exc))
                break
        report.seconds = time.perf_counter() - started
        if report.batches:
            log.info(
                "writeback_finished",
                sent=report.sent,
                failed=report.failed,
                retried=report.retried,
                requests=report.requests,
                batches=report.batches,
                seconds=round(report.seconds, 3),
            )
        return report

    # ------------------------------------------------------------------ steps

    def _claim(self) -> list[Claim]:
        now = _now()
        with session_scope(self._engine) as session:
            rows = session.execute(
                _CLAIM_SQL,
                {
                    "now": now,
                    "lease": now + timedelta(seconds=self._settings.writeback_claim_seconds),
                    "limit": self._settings.writeback_batch_size,
                },
            ).all()
        return [Claim(row.id, row.item_kind, row.item_id, row.attempts) for row in rows]

    def _send(self, claims: list[Claim], report: WritebackReport) -> None:
        with Session(self._engine, expire_on_commit=False) as session:
            outgoing, vanished = self._load(session, claims)
        if vanished:
            self._forget(vanished)
        if not outgoing:
            return
        field_name = self._settings.sf_task_external_id_field
        report.requests += 1
        try:
            results = self.client.upsert_collection(TASK, field_name, [o.record for o in outgoing])
        except (QuotaStop, SalesforceAuthError):
            raise
        except SyncError as exc:
            # The whole request failed after the client's own retries (an outage, or a
            # configuration problem such as a missing field): every row waits and tries again.
            log.warning("writeback_request_failed", error=str(exc), records=len(outgoing))
            report.errors.append(str(exc))
            self._retry_or_fail(outgoing, error_code=exc.code, error=str(exc), report=report)
            return
        self._record(outgoing, results, report)

    def _load(self, session: Session, claims: list[Claim]) -> tuple[list[_Outgoing], list[Claim]]:
        item_ids = [c.item_id for c in claims if c.item_kind == "action_item"]
        goal_ids = [c.item_id for c in claims if c.item_kind == "goal"]
        items: dict[uuid.UUID, ActionItem | CoachingGoal] = {}
        if item_ids:
            items.update(
                {i.id: i for i in session.exec(select(ActionItem).where(col(ActionItem.id).in_(item_ids)))}
            )
        if goal_ids:
            items.update(
                {
                    g.id: g
                    for g in session.exec(select(CoachingGoal).where(col(CoachingGoal.id).in_(goal_ids)))
                }
            )
        outgoing, vanished = [], []
        for claim in claims:
            item = items.get(claim.item_id)
            if item is None:
                vanished.append(claim)
                continue
            record, status = self._task(item)
            outgoing.append(_Outgoing(claim, item, record, status))
        return outgoing, vanished

    def _task(self, item: ActionItem | CoachingGoal) -> tuple[dict[str, Any], str | None]:
        """The Task's fields, and the Status sent (None when left as Salesforce has it)."""
        settings = self._settings
        link_path: str
        if isinstance(item, ActionItem):
            subject = f"Coaching: {item.description}"
            body = item.description
            due = item.due_date
            status = {
                "open": settings.writeback_open_status,
                "completed": settings.writeback_completed_status,
            }.get(item.status, settings.writeback_canceled_status)
            link_path = f"/v1/action-items/{item.id}"
            what_id = item.opportunity_id
        else:
            subject = f"Coaching goal: {describe(item)} ({item.period_label})"
            body = item.measurement_plan
            due = item.period_end - timedelta(days=1)
            status = {
                "active": settings.writeback_open_status,
                "achieved": settings.writeback_completed_status,
            }.get(item.status, settings.writeback_canceled_status)
            link_path = f"/v1/goals/{item.id}"
            what_id = None
        if settings.public_url:
            body = f"{body}\n\n{settings.public_url.rstrip('/')}{link_path}"
        record: dict[str, Any] = {
            settings.sf_task_external_id_field: item.external_id,
            "OwnerId": item.rep_id,
            "Subject": _clip(subject, SUBJECT_LENGTH),
            "Description": body,
            "ActivityDate": due.isoformat() if due else None,
            "WhatId": what_id,
        }
        # An open item whose Task was already sent open leaves Status alone: the rep may have
        # completed the Task in Salesforce since, and the next sync brings that completion here.
        if status == settings.writeback_open_status and item.sent_status == status:
            return record, None
        record["Status"] = status
        return record, status

    def _record(
        self, outgoing: list[_Outgoing], results: list[dict[str, Any]], report: WritebackReport
    ) -> None:
        now = _now()
        transient: list[tuple[_Outgoing, str, str]] = []
        with session_scope(self._engine) as session:
            for entry, result in zip(outgoing, results, strict=True):
                if result.get("success"):
                    self._sent(session, entry, str(result.get("id") or "") or None, now)
                    report.sent += 1
                    continue
                code, message = _record_error(result)
                if (
                    code in TRANSIENT_RECORD_ERRORS
                    and entry.claim.attempts < self._settings.writeback_max_attempts
                ):
                    transient.append((entry, code, message))
                    continue
                self._failed(session, entry, code, message, now)
                report.failed += 1
            for entry, code, message in transient:
                self._backoff(session, entry.claim, f"{code}: {message}", now)
                report.retried += 1

    def _sent(self, session: Session, entry: _Outgoing, task_id: str | None, now: datetime) -> None:
        item = entry.item
        table = "action_item" if isinstance(item, ActionItem) else "coaching_goal"
        # The item may have changed while the request was out: it stays pending, and its newer
        # version is sent by the next run (the outbox row survives the version check below).
        session.execute(
            text(
                f"UPDATE {table} SET sf_task_id = coalesce(:task_id, sf_task_id), sent_version = :version,"  # noqa: S608
                " sent_status = coalesce(:status, sent_status), written_back_at = :now,"
                " writeback_error_code = NULL, writeback_error = NULL,"
                " writeback_status = CASE WHEN version = :version THEN 'sent' ELSE 'pending' END"
                " WHERE id = :id AND (sent_version IS NULL OR sent_version <= :version)"
            ),
            {"task_id": task_id, "version": item.version, "status": entry.status, "now": now, "id": item.id},
        )
        self._done(session, entry.claim, item.version, now)

    def _failed(self, session: Session, entry: _Outgoing, code: str, message: str, now: datetime) -> None:
        item = entry.item
        table = "action_item" if isinstance(item, ActionItem) else "coaching_goal"
        session.execute(
            text(
                f"UPDATE {table} SET writeback_status = 'failed', writeback_error_code = :code,"  # noqa: S608
                " writeback_error = :message WHERE id = :id AND version = :version"
            ),
            {"code": code[:64], "message": message, "id": item.id, "version": item.version},
        )
        log.warning(
            "writeback_item_failed",
            external_id=item.external_id,
            code=code,
            error=message,
            version=item.version,
        )
        self._done(session, entry.claim, item.version, now)

    @staticmethod
    def _done(session: Session, claim: Claim, version: int, now: datetime) -> None:
        deleted = session.execute(
            text("DELETE FROM writeback_outbox WHERE id = :id AND version <= :version RETURNING id"),
            {"id": claim.row_id, "version": version},
        ).first()
        if not deleted:
            session.execute(
                text(
                    "UPDATE writeback_outbox SET claimed_until = NULL, attempts = 0, available_at = :now"
                    " WHERE id = :id"
                ),
                {"id": claim.row_id, "now": now},
            )

    def _backoff(self, session: Session, claim: Claim, error: str, now: datetime) -> None:
        settings = self._settings
        pause = min(
            settings.writeback_backoff_seconds * 2 ** max(claim.attempts - 1, 0),
            settings.writeback_backoff_max_seconds,
        )
        session.execute(
            text(
                "UPDATE writeback_outbox SET claimed_until = NULL, available_at = :at, last_error = :error"
                " WHERE id = :id"
            ),
            {"id": claim.row_id, "at": now + timedelta(seconds=pause), "error": error},
        )

    def _retry_or_fail(
        self, outgoing: list[_Outgoing], *, error_code: str, error: str, report: WritebackReport
    ) -> None:
        now = _now()
        with session_scope(self._engine) as session:
            for entry in outgoing:
                if entry.claim.attempts >= self._settings.writeback_max_attempts:
                    self._failed(session, entry, error_code, error, now)
                    report.failed += 1
                else:
                    self._backoff(session, entry.claim, error, now)
                    report.retried += 1

    def _release(self, claims: list[Claim], *, error: str) -> None:
        """Give claimed rows back untouched: the stop was not these items' fault."""
        with session_scope(self._engine) as session:
            session.execute(
                text(
                    "UPDATE writeback_outbox SET claimed_until = NULL, last_error = :error,"
                    " attempts = greatest(attempts - 1, 0) WHERE id = ANY(:ids)"
                ),
                {"ids": [c.row_id for c in claims], "error": error},
            )

    def _forget(self, claims: list[Claim]) -> None:
        with session_scope(self._engine) as session:
            session.execute(
                text("DELETE FROM writeback_outbox WHERE id = ANY(:ids)"), {"ids": [c.row_id for c in claims]}
            )


def _clip(value: str, length: int) -> str:
    return value if len(value) <= length else value[: length - 1] + "…"


def _record_error(result: dict[str, Any]) -> tuple[str, str]:
    errors = result.get("errors") or []
    first = errors[0] if errors and isinstance(errors[0], dict) else {}
    return str(first.get("statusCode") or "UNKNOWN_ERROR"), str(first.get("message") or "no message")


def run_writeback(
    settings: Settings,
    engine: Engine,
    *,
    client: SalesforceClient | None = None,
    max_batches: int | None = None,
) -> WritebackReport:
    """One write-back run: every due outbox row (the worker calls this after each sync)."""
    sender = WritebackSender(settings, engine, client=client)
    try:
        return sender.run(max_batches=max_batches)
    finally:
        sender.close()
