"""Request and response bodies of `/v1/api-keys` and `/v1/me`."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from salescoach_api.idempotency import SECRET
from salescoach_api.types import RequestModel, SalesforceId
from salescoach_core.access import Principal, PrincipalKind
from salescoach_core.models import ApiKey
from salescoach_core.roles import Role


class ApiKeyCreate(RequestModel):
    name: str = Field(min_length=1, max_length=200, description="Who or what uses the key.")
    role: Role
    sf_user_id: SalesforceId | None = Field(
        default=None,
        description="The Salesforce user the key acts for; required for `manager` and `rep` keys.",
    )


class ApiKeyPublic(BaseModel):
    prefix: str = Field(
        description="Names the key: the first 16 characters of it.", examples=["sc_live_ab12cd34"]
    )
    name: str
    role: Role
    sf_user_id: str | None
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyPublic:
        assert row.created_at is not None
        return cls(
            prefix=row.prefix,
            name=row.name,
            role=Role(row.role),
            sf_user_id=row.sf_user_id,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(
        description="The key itself. Shown this once: only its hash is stored.", json_schema_extra=SECRET
    )


class PrincipalPublic(BaseModel):
    """The caller, as the API sees them."""

    kind: PrincipalKind = Field(description="`api_key` or `oidc`.")
    subject: str = Field(description="The API key's prefix, or the token's `sub`.")
    name: str
    role: Role
    sf_user_id: str | None = Field(description="The Salesforce user whose scope applies, if any.")

    @classmethod
    def of(cls, principal: Principal) -> PrincipalPublic:
        return cls(
            kind=principal.kind,
            subject=principal.subject,
            name=principal.name,
            role=principal.role,
            sf_user_id=principal.sf_user_id,
        )
