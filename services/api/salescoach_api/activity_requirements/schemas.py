"""Activity requirements on the wire."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, PlainSerializer

from salescoach_api.types import RequestModel, SalesforceId
from salescoach_core.activity_requirements import WeeklyRequirement

PerWeek = Field(default=None, ge=0, le=10000, decimal_places=2, description="Per week; null: no requirement.")
AsNumber = PlainSerializer(
    lambda v: None if v is None else float(v), return_type=float | None, when_used="json"
)


class WeeklyRequirementBody(RequestModel):
    calls_per_week: Annotated[Decimal | None, AsNumber] = PerWeek
    emails_per_week: Annotated[Decimal | None, AsNumber] = PerWeek
    meetings_per_week: Annotated[Decimal | None, AsNumber] = PerWeek

    def to_domain(self) -> WeeklyRequirement:
        return WeeklyRequirement(self.calls_per_week, self.emails_per_week, self.meetings_per_week)

    @classmethod
    def of(cls, values: WeeklyRequirement) -> WeeklyRequirementBody:
        return cls(
            calls_per_week=values.calls_per_week,
            emails_per_week=values.emails_per_week,
            meetings_per_week=values.meetings_per_week,
        )


class ActivityRequirements(RequestModel):
    """The default requirement and per-team overrides keyed by the manager's User Id. A rep
    follows their manager's team requirement if there is one, else the default."""

    default: WeeklyRequirementBody | None = None
    teams: dict[SalesforceId, WeeklyRequirementBody] = Field(default_factory=dict, max_length=5000)
