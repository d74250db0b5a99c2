"""Reps and teams on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from salescoach_core.models import SfUser


class RepPublic(BaseModel):
    id: str
    name: str | None
    email: str | None
    title: str | None
    is_active: bool
    manager_id: str | None

    @classmethod
    def of(cls, user: SfUser) -> RepPublic:
        return cls(
            id=user.id,
            name=user.name,
            email=user.email,
            title=user.title,
            is_active=user.is_active,
            manager_id=user.manager_id,
        )


class TeamPublic(BaseModel):
    manager: RepPublic
    scope: Literal["team", "org"]
    members: list[RepPublic]
