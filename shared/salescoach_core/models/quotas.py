"""Monthly quotas per rep, set by RevOps (docs/domain.md: quota)."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Identity, Numeric, UniqueConstraint, func
from sqlmodel import Column, DateTime, Field, SQLModel

from salescoach_core.models.base import SF_ID_LENGTH


class Quota(SQLModel, table=True):
    __tablename__ = "quota"
    __table_args__ = (
        UniqueConstraint("rep_id", "month"),
        CheckConstraint("EXTRACT(DAY FROM month) = 1", name="month_is_first_day"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    rep_id: str = Field(max_length=SF_ID_LENGTH, index=True)
    month: date = Field(description="First day of the month the quota covers.")
    amount: Decimal = Field(sa_type=Numeric(18, 2))
    created_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    updated_at: datetime | None = Field(
        default=None,
        # Indexed: the scorecard cache reads max(updated_at) on every request.
        sa_column=Column(
            DateTime(timezone=True),
            nullable=False,
            server_default=func.now(),
            onupdate=func.now(),
            index=True,
        ),
    )
