"""Stored first answers for `Idempotency-Key` (docs/integrations.md): the one module that takes,
reads, keeps and prunes them. The API's middleware calls `IdempotencyStore`; the delivery
worker calls `prune_idempotency_records`. A record never holds a secret (`finish` drops them)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from salescoach_core.errors import ConflictError, UnprocessableError
from salescoach_core.models.integrations import IdempotencyRecord

IN_FLIGHT = 0
# An in-flight marker this old belongs to a request whose process died; a retry may take it.
IN_FLIGHT_STALE = timedelta(minutes=5)
# Answers that depend on the credential or the moment rather than the request: a retry reruns.
NOT_STORED = frozenset({401, 403, 429})

SessionFactory = Callable[[], AbstractContextManager[Session]]


class IdempotencyKeyReusedError(UnprocessableError):
    code = "idempotency_key_reused"
    title = "Idempotency-Key reused"


class IdempotencyKeyInUseError(ConflictError):
    code = "idempotency_key_in_use"
    title = "Idempotency-Key in use"


class ResponseNotReplayableError(ConflictError):
    """The first answer carried a secret shown once (an API key, a webhook secret): it was not
    kept, so it cannot be answered again. `created` is that answer without its secrets."""

    code = "response_not_replayable"
    title = "Answer not replayable"


@dataclass(frozen=True)
class Claim:
    """What `begin` found: nothing (the request runs), or the record of an earlier one."""

    record: IdempotencyRecord | None


class IdempotencyStore:
    """The records, through short transactions of their own (committed before the request's
    work starts, so a concurrent retry sees the in-flight marker)."""

    def __init__(self, sessions: SessionFactory) -> None:
        self.sessions = sessions

    def begin(self, *, principal: str, key: str, request_hash: str, method: str, path: str) -> Claim:
        """Take the key with an in-flight marker, or return the record already there."""
        now = datetime.now(UTC)
        with self.sessions() as session:
            taken = session.execute(
                insert(IdempotencyRecord)
                .values(
                    principal=principal,
                    key=key,
                    method=method,
                    path=path,
                    request_hash=request_hash,
                    status_code=IN_FLIGHT,
                    headers={},
                    body=b"",
                    created_at=now,
                )
                .on_conflict_do_nothing()
                .returning(col(IdempotencyRecord.key))
            ).first()
            if taken is not None:
                return Claim(None)
            record = session.get(IdempotencyRecord, (principal, key))
            if record is None:
                return Claim(None)
            if record.status_code == IN_FLIGHT and record.created_at < now - IN_FLIGHT_STALE:
                # The first attempt's process died before answering: let this one run.
                record.request_hash = request_hash
                record.created_at = now
                session.add(record)
                return Claim(None)
            session.expunge(record)
            return Claim(record)

    def finish(
        self,
        *,
        principal: str,
        key: str,
        status: int,
        headers: dict[str, str],
        body: bytes,
        secret_fields: Collection[str] = (),
    ) -> None:
        """Keep the answer (without `secret_fields`), or drop the marker when the answer is not
        kept (server errors: retrying them is the point; `NOT_STORED`)."""
        with self.sessions() as session:
            where = (col(IdempotencyRecord.principal) == principal, col(IdempotencyRecord.key) == key)
            if status >= 500 or status in NOT_STORED:
                session.execute(delete(IdempotencyRecord).where(*where))
                return
            if secret_fields:
                body = without_secrets(body, secret_fields)
            session.execute(
                update(IdempotencyRecord).where(*where).values(status_code=status, headers=headers, body=body)
            )


def without_secrets(body: bytes, secret_fields: Collection[str]) -> bytes:
    """The JSON object `body` without `secret_fields`; anything else is not kept at all, since
    what it holds cannot be told."""
    try:
        document = json.loads(body)
    except ValueError:
        return b""
    if not isinstance(document, dict):
        return b""
    kept = {name: value for name, value in document.items() if name not in secret_fields}
    return json.dumps(kept, separators=(",", ":")).encode()


def prune_idempotency_records(session: Session, *, now: datetime, retention_hours: float) -> int:
    """Delete the records older than the retention (`SALESCOACH_IDEMPOTENCY_RETENTION_HOURS`)."""
    result = session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.created_at) < now - timedelta(hours=retention_hours)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)
