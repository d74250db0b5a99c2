"""Factories for synced Salesforce rows. Each call inserts one row with valid 18-character ids."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session

from salescoach_core.models import (
    SfEvent,
    SfOpportunity,
    SfOpportunityHistory,
    SfOpportunityStage,
    SfTask,
    SfUser,
)
from salescoach_core.sfids import to18

_counter = itertools.count(1)


def sf_id(prefix: str) -> str:
    """A fresh, valid 18-character id with the object's key prefix."""
    return to18(f"{prefix}{next(_counter):012d}")


@dataclass
class Factory:
    session: Session

    def user(self, name: str, *, manager: SfUser | None = None, active: bool = True, **fields: Any) -> SfUser:
        user = SfUser(
            id=sf_id("005"),
            name=name,
            email=f"{name.lower().replace(' ', '.')}@example.com",
            is_active=active,
            manager_id=manager.id if manager else None,
            **fields,
        )
        return self._add(user)

    def opportunity(
        self,
        owner: SfUser,
        *,
        created: datetime,
        amount: Decimal | int | None = None,
        close: date | None = None,
        won: bool = False,
        lost: bool = False,
        deleted: bool = False,
        stage: str | None = None,
    ) -> SfOpportunity:
        closed = won or lost
        opportunity = SfOpportunity(
            id=sf_id("006"),
            owner_id=owner.id,
            name=f"Deal {next(_counter)}",
            amount=Decimal(amount) if amount is not None else None,
            stage_name=stage or ("Closed Won" if won else "Closed Lost" if lost else "Prospecting"),
            is_closed=closed,
            is_won=won,
            close_date=close or created.date(),
            created_date=created,
            system_modstamp=created,
            is_deleted=deleted,
        )
        return self._add(opportunity)

    def task(
        self,
        owner: SfUser,
        *,
        subtype: str | None = "Task",
        type: str | None = None,
        closed: bool = True,
        completed: datetime | None = None,
        activity_date: date | None = None,
        deleted: bool = False,
        archived: bool = False,
        what: SfOpportunity | None = None,
        created: datetime | None = None,
    ) -> SfTask:
        task = SfTask(
            id=sf_id("00T"),
            owner_id=owner.id,
            subject="Follow up",
            status="Completed" if closed else "Not Started",
            is_closed=closed,
            task_subtype=subtype,
            type=type,
            completed_date_time=completed,
            activity_date=activity_date,
            is_deleted=deleted,
            is_archived=archived,
            what_id=what.id if what else None,
            created_date=created,
        )
        return self._add(task)

    def event(
        self, owner: SfUser, *, start: datetime, deleted: bool = False, what: SfOpportunity | None = None
    ) -> SfEvent:
        event = SfEvent(
            id=sf_id("00U"),
            owner_id=owner.id,
            what_id=what.id if what else None,
            subject="Meeting",
            start_date_time=start,
            end_date_time=start,
            duration_in_minutes=30,
            is_deleted=deleted,
        )
        return self._add(event)

    def stage(
        self, api_name: str, *, sort_order: int, closed: bool = False, won: bool = False, active: bool = True
    ) -> SfOpportunityStage:
        return self._add(
            SfOpportunityStage(
                id=sf_id("01J"),
                api_name=api_name,
                master_label=api_name,
                sort_order=sort_order,
                is_active=active,
                is_closed=closed or won,
                is_won=won,
            )
        )

    def history(
        self, opportunity: SfOpportunity, *, stage: str, at: datetime, deleted: bool = False
    ) -> SfOpportunityHistory:
        """One OpportunityHistory row: the opportunity entered (or stayed in) `stage` at `at`."""
        return self._add(
            SfOpportunityHistory(
                id=sf_id("008"),
                opportunity_id=opportunity.id,
                stage_name=stage,
                amount=opportunity.amount,
                close_date=opportunity.close_date,
                created_date=at,
                system_modstamp=at,
                is_deleted=deleted,
            )
        )

    def _add(self, row: Any) -> Any:
        self.session.add(row)
        self.session.flush()
        return row


@pytest.fixture
def factory(db_session: Session) -> Factory:
    return Factory(db_session)
