"""The shared MetaData with a naming convention, so constraint names are stable across migrations."""

from typing import Any

from sqlalchemy import DateTime, Numeric, String
from sqlmodel import Field, SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata = SQLModel.metadata

SF_ID_LENGTH = 18


def sf_id_pk() -> Any:
    """The Salesforce Id as natural primary key (always stored in its 18-character form)."""
    return Field(sa_type=String(SF_ID_LENGTH), primary_key=True, max_length=SF_ID_LENGTH)


def sf_ref(*, index: bool = False) -> Any:
    """A lookup to another Salesforce record, by 18-character Id (no FK: sync order is free)."""
    return Field(default=None, sa_type=String(SF_ID_LENGTH), index=index, max_length=SF_ID_LENGTH)


def timestamp(*, nullable: bool = True, index: bool = False) -> Any:
    """A UTC instant, stored as timestamptz."""
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=nullable, index=index)


def money() -> Any:
    """A currency amount: exact decimal, never float."""
    return Field(default=None, sa_type=Numeric(18, 2))


__all__ = [
    "NAMING_CONVENTION",
    "SF_ID_LENGTH",
    "metadata",
    "money",
    "sf_id_pk",
    "sf_ref",
    "timestamp",
]
