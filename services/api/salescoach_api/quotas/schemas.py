"""Quotas on the wire."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, Field

from salescoach_api.types import Money, RequestModel
from salescoach_core.models import Quota
from salescoach_core.periods import YEAR

Amount = Field(ge=0, lt=Decimal("1e15"), decimal_places=2, examples=[50000])


class QuotaSet(RequestModel):
    amount: Decimal = Amount


class QuotaRowIn(RequestModel):
    rep_id: str = Field(max_length=18, examples=["0055e000001AbCdEAF"])
    month: str = Field(pattern=rf"^{YEAR}-(0[1-9]|1[0-2])$", examples=["2026-10"])
    amount: Decimal = Amount


class QuotaPublic(BaseModel):
    rep_id: str
    month: str = Field(description="YYYY-MM")
    amount: Money
    updated_at: datetime | None

    @classmethod
    def of(cls, quota: Quota) -> QuotaPublic:
        return cls(
            rep_id=quota.rep_id,
            month=quota.month.strftime("%Y-%m"),
            amount=quota.amount,
            updated_at=quota.updated_at,
        )


class QuotaList(BaseModel):
    items: list[QuotaPublic]


class QuotaImportResult(BaseModel):
    written: int = Field(description="Rows inserted or replaced; all rows or none are written.")
