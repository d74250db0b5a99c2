"""API keys: who may call the API without an identity provider (docs/auth.md, "API keys").

Only a SHA-256 hash of each key is stored, beside a short visible prefix that names the key
in lists, logs and `salescoach apikey revoke`.
"""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Identity, String, Text, func
from sqlmodel import Column, DateTime, Field, SQLModel

from salescoach_core.models.base import SF_ID_LENGTH, timestamp

API_KEY_PREFIX_LENGTH = 16


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'manager', 'rep', 'integration')", name="role_is_known"),
        CheckConstraint(
            "role NOT IN ('manager', 'rep') OR sf_user_id IS NOT NULL", name="scoped_role_has_user"
        ),
    )

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    prefix: str = Field(
        sa_type=String(API_KEY_PREFIX_LENGTH),
        max_length=API_KEY_PREFIX_LENGTH,
        unique=True,
        description="The key's first characters, shown in lists (sc_live_ab12cd34).",
    )
    key_hash: str = Field(sa_type=String(64), max_length=64, description="Hex SHA-256 of the whole key.")
    name: str = Field(max_length=200)
    role: str = Field(sa_type=String(16), max_length=16)
    sf_user_id: str | None = Field(default=None, sa_type=String(SF_ID_LENGTH), max_length=SF_ID_LENGTH)
    created_at: datetime | None = Field(
        default=None,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )
    revoked_at: datetime | None = timestamp()


class RateLimitWindow(SQLModel, table=True):
    """Requests one principal made in one minute of the database's clock, counted by every API
    process together (docs/auth.md, "Rate limits").

    UNLOGGED: a counter row is written by every request, and losing the counts of the current
    minute in a crash costs nothing, so the writes skip the WAL and its flush at each commit.
    """

    __tablename__ = "rate_limit_window"
    __table_args__ = {"prefixes": ["UNLOGGED"]}

    principal: str = Field(sa_type=Text, primary_key=True, description="`kind:subject` of the caller.")
    window_start: datetime = Field(sa_type=DateTime(timezone=True), primary_key=True)
    hits: int
