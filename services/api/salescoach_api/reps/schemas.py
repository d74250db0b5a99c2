"""Reps and teams on the wire."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from salescoach_core.models import SfUser
from salescoach_core.reps import Person


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


class PersonPublic(RepPublic):
    is_rep: bool = Field(
        description="An active user who owns an opportunity or has a manager: listed by `GET /v1/reps`."
    )
    is_manager: bool = Field(description="Their team (`GET /v1/teams/{id}`) has at least one rep.")

    @classmethod
    def of_person(cls, person: Person) -> PersonPublic:
        return cls(
            **RepPublic.of(person.user).model_dump(), is_rep=person.is_rep, is_manager=person.is_manager
        )
