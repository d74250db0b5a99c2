"""Weekly activity requirements (docs/domain.md: process_to_requirement), a default and per team."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Numeric, func
from sqlmodel import Column, DateTime, Field, SQLModel

from salescoach_core.models.base import SF_ID_LENGTH

DEFAULT_SCOPE = "default"


class ActivityRequirement(SQLModel, table=True):
    __tablename__ = "activity_requirement"
    __table_args__ = (
        CheckConstraint(
            "calls_per_week >= 0 AND emails_per_week >= 0 AND meetings_per_week >= 0",
            name="not_negative",
        ),
    )

    scope: str = Field(
        primary_key=True,
        max_length=SF_ID_LENGTH,
        description="'default', or the Salesforce User Id of the manager whose team it applies to.",
    )
    calls_per_week: Decimal | None = Field(default=None, sa_type=Numeric(8, 2))
    emails_per_week: Decimal | None = Field(default=None, sa_type=Numeric(8, 2))
    meetings_per_week: Decimal | None = Field(default=None, sa_type=Numeric(8, 2))
    updated_at: datetime | None = Field(
        default=None,
        sa_column=Column(
            DateTime(timezone=True), nullable=False, server_default=func.now(), onupdate=func.now()
        ),
    )
