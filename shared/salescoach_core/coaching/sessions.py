"""Coaching sessions (docs/domain.md, "Coaching sessions"); their action items are in `action_items`.

A session is scheduled, then closed once: held, canceled or no-show. Holding needs at least one
action item with a due date and a scheduled follow-up; a developmental session freezes the
scorecard the coach and rep looked at.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Literal

import structlog
from sqlmodel import Session, col, select

from salescoach_core import reps
from salescoach_core.coaching import action_items
from salescoach_core.coaching.config import CoachingConfig
from salescoach_core.coaching.errors import (
    ActionItemAndFollowUpRequiredError,
    ActionItemWithDueDateRequiredError,
    FollowUpRequiredError,
    HoldRequirementsMissingError,
    InvalidSessionError,
    NotAConsequenceSessionError,
    SessionClosedError,
    SessionNotFoundError,
)
from salescoach_core.integrations.events import emit
from salescoach_core.integrations.payloads import session_data
from salescoach_core.keyset import Keyset
from salescoach_core.models import CoachingSession, SfUser
from salescoach_core.periods import Period, month_of
from salescoach_core.revisions import Precondition, claim_revision
from salescoach_core.scorecards.service import rep_scorecard

log = structlog.get_logger(__name__)

Mode = Literal["developmental", "consequence"]
SessionStatus = Literal["scheduled", "held", "canceled", "no_show"]

DEVELOPMENTAL_FIELDS = (
    "objectives",
    "rep_perspective",
    "obstacles",
    "way_forward",
    "focus_behavior",
    "what_if_scenarios",
)
CONSEQUENCE_FIELDS = ("standard_metric", "standard_threshold", "deadline", "consequence")
COMMON_FIELDS = ("scheduled_at", "duration_minutes", "notes", "follow_up_at", "coach_id")
NEVER_NULL_FIELDS = ("scheduled_at", "duration_minutes")
PLACES = Decimal("0.0001")


def _apply(session: Session, row: CoachingSession, fields: dict[str, Any]) -> None:
    allowed = set(COMMON_FIELDS) | set(
        DEVELOPMENTAL_FIELDS if row.mode == "developmental" else CONSEQUENCE_FIELDS
    )
    wrong = sorted(k for k, v in fields.items() if k not in allowed and v is not None)
    if wrong:
        other = "consequence" if row.mode == "developmental" else "developmental"
        raise InvalidSessionError(f"{', '.join(wrong)} belong to {other} sessions, not {row.mode} ones.")
    for name in NEVER_NULL_FIELDS:
        if name in fields and fields[name] is None:
            raise InvalidSessionError(
                f"A session always has its `{name}`: send a value, not null.", field=name
            )
    for name, value in fields.items():
        if name not in allowed:
            continue
        if name == "coach_id":
            value = reps.coach_of(session, rep_id=row.rep_id, coach_id=value)
        setattr(row, name, value)


def _require_consequence_standard(row: CoachingSession) -> None:
    missing = [name for name in CONSEQUENCE_FIELDS if getattr(row, name) is None]
    if missing:
        raise InvalidSessionError(
            "A consequence session states the standard, the deadline and the consequence; missing: "
            + ", ".join(missing)
            + "."
        )


def create_session(
    session: Session, *, rep: SfUser, mode: Mode, coach_id: str | None, fields: dict[str, Any], now: datetime
) -> CoachingSession:
    row = CoachingSession(
        rep_id=rep.id,
        coach_id=reps.coach_of(session, rep_id=rep.id, coach_id=coach_id),
        mode=mode,
        status="scheduled",
        scheduled_at=fields.pop("scheduled_at"),
        duration_minutes=fields.pop("duration_minutes", 30),
        created_at=now,
        updated_at=now,
    )
    _apply(session, row, fields)
    if mode == "consequence":
        _require_consequence_standard(row)
    session.add(row)
    session.flush()
    log.info("session_scheduled", session_id=str(row.id), rep_id=rep.id, mode=mode)
    return row


def get_session(session: Session, session_id: uuid.UUID) -> CoachingSession:
    row = session.get(CoachingSession, session_id)
    if row is None:
        raise SessionNotFoundError.of(session_id)
    return row


def list_sessions(
    session: Session, *, rep_id: str, status: str | None, keyset: Keyset
) -> Sequence[CoachingSession]:
    """One page of the rep's sessions, in `keyset`'s order."""
    query = select(CoachingSession).where(col(CoachingSession.rep_id) == rep_id)
    if status is not None:
        query = query.where(col(CoachingSession.status) == status)
    return keyset.fetch(session, query)


def _claim_scheduled(session: Session, row: CoachingSession, precondition: Precondition | None) -> None:
    """Lock the session row as a new revision (412 unless at one `precondition` names), then
    check it is still scheduled (a concurrent close may have won)."""
    claim_revision(session, row, precondition)
    if row.status != "scheduled":
        raise SessionClosedError(f"Session {row.id} is {row.status}; only a scheduled session can change.")


def update_session(
    session: Session,
    *,
    row: CoachingSession,
    fields: dict[str, Any],
    now: datetime,
    precondition: Precondition | None = None,
) -> CoachingSession:
    _claim_scheduled(session, row, precondition)
    _apply(session, row, fields)
    if row.mode == "consequence":
        _require_consequence_standard(row)
    row.updated_at = now
    session.add(row)
    session.flush()
    return row


def hold_session(
    session: Session,
    *,
    row: CoachingSession,
    fields: dict[str, Any],
    snapshot_period: Period | None,
    now: datetime,
    config: CoachingConfig,
    precondition: Precondition | None = None,
) -> CoachingSession:
    """Close the session as held: checks what holding needs, freezes the scorecard snapshot."""
    _claim_scheduled(session, row, precondition)
    has_item = any(
        item.due_date is not None and item.status != "canceled"
        for item in action_items.items_of(session, row)
    )
    # Checked before anything is applied, so a refused hold leaves the session untouched.
    follow_up = fields.get("follow_up_at", row.follow_up_at)
    has_follow_up = follow_up is not None and follow_up > row.scheduled_at
    if not (has_item and has_follow_up):
        missing = []
        if not has_item:
            missing.append("action_item_with_due_date")
        if not has_follow_up:
            missing.append("follow_up")
        classes: dict[tuple[str, ...], type[HoldRequirementsMissingError]] = {
            ("action_item_with_due_date",): ActionItemWithDueDateRequiredError,
            ("follow_up",): FollowUpRequiredError,
        }
        error_class = classes.get(tuple(missing), ActionItemAndFollowUpRequiredError)
        texts = {
            "action_item_with_due_date": "at least one action item with a due date "
            "(POST /v1/sessions/{id}/action-items)",
            "follow_up": "a scheduled follow-up (`follow_up_at`, after the session's scheduled time)",
        }
        raise error_class(
            f"Session {row.id} cannot be closed as held: it needs "
            + " and ".join(texts[m] for m in missing)
            + ".",
            missing=missing,
        )
    _apply(session, row, fields)
    if row.mode == "consequence":
        _require_consequence_standard(row)
    else:
        rep = reps.get_user(session, row.rep_id)
        period = snapshot_period or month_of(now.astimezone(config.scorecard.zone).date())
        card = rep_scorecard(session, rep=rep, period=period, config=config.scorecard, now=now)
        row.scorecard_snapshot = {
            "period": period.label,
            "from": period.start.isoformat(),
            "to": period.end.isoformat(),
            "taken_at": now.isoformat(),
            "rank": card.rank,
            "metrics": _jsonable({k: v for k, v in asdict(card.metrics).items()}),
        }
    row.status = "held"
    row.closed_at = now
    row.updated_at = now
    session.add(row)
    session.flush()
    emit(session, "session.held", session_data(row), now=now)
    log.info("session_held", session_id=str(row.id), rep_id=row.rep_id, mode=row.mode)
    return row


def _jsonable(value: Any) -> Any:
    """Scorecard figures as JSON: Decimals rounded to 4 places as numbers (a frozen record)."""
    if isinstance(value, Decimal):
        return float(value.quantize(PLACES, rounding=ROUND_HALF_EVEN))
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def close_session(
    session: Session,
    *,
    row: CoachingSession,
    status: Literal["canceled", "no_show"],
    now: datetime,
    precondition: Precondition | None = None,
) -> CoachingSession:
    _claim_scheduled(session, row, precondition)
    row.status = status
    row.closed_at = now
    row.updated_at = now
    session.add(row)
    session.flush()
    if status == "canceled":
        emit(session, "session.canceled", session_data(row), now=now)
    log.info("session_closed", session_id=str(row.id), status=status)
    return row


def acknowledge(
    session: Session,
    *,
    row: CoachingSession,
    actor: str,
    now: datetime,
    precondition: Precondition | None = None,
) -> CoachingSession:
    """The rep acknowledges a consequence session's standard; repeating it changes nothing but
    the revision (every accepted write is one)."""
    claim_revision(session, row, precondition)
    if row.mode != "consequence":
        raise NotAConsequenceSessionError(f"Session {row.id} is developmental; nothing to acknowledge.")
    if row.status in ("canceled", "no_show"):
        raise SessionClosedError(f"Session {row.id} is {row.status}; there is nothing to acknowledge.")
    if row.acknowledged_at is None:
        row.acknowledged_at = now
        row.acknowledged_by = actor
        row.updated_at = now
        session.add(row)
        session.flush()
        log.info("session_acknowledged", session_id=str(row.id), actor=actor)
    return row
