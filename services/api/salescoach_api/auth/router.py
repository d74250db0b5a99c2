"""`/v1/api-keys` (admins manage keys) and `/v1/me` (who am I)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Response, status

from salescoach_api.auth.dependencies import CurrentPrincipal
from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.auth.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyPublic, PrincipalPublic
from salescoach_api.dependencies import DbSessionDep
from salescoach_api.pagination import Page, SortedPagination, Sorting
from salescoach_core import api_keys
from salescoach_core.models.auth import ApiKey

router = v1_router(prefix="/v1", tags=["auth"])

# A key's prefix is unique: it is the key's id on the wire, and breaks no ties.
API_KEY_SORTING = Sorting(
    name="api_keys", id_column=ApiKey.prefix, fields={"prefix": ApiKey.prefix}, default="prefix"
)

PrefixPath = Annotated[str, Path(description="The key's prefix, as listed.", examples=["sc_live_ab12cd34"])]


@router.post(
    "/api-keys",
    status_code=status.HTTP_201_CREATED,
    operation_id="createApiKey",
    dependencies=[requires(Access.ADMIN)],
)
def create_api_key(db_session: DbSessionDep, body: ApiKeyCreate) -> ApiKeyCreated:
    """Create an API key. The response carries the key once; store it now."""
    new = api_keys.create_api_key(db_session, name=body.name, role=body.role, sf_user_id=body.sf_user_id)
    return ApiKeyCreated(**ApiKeyPublic.of(new.row).model_dump(), key=new.plaintext)


@router.get("/api-keys", operation_id="listApiKeys", dependencies=[requires(Access.ADMIN)])
def list_api_keys(
    db_session: DbSessionDep,
    page: Annotated[SortedPagination, API_KEY_SORTING.depends()],
) -> Page[ApiKeyPublic]:
    """Every API key, revoked ones included, by prefix. Keys themselves are never shown again."""
    rows = api_keys.list_api_keys(db_session, keyset=page.keyset())
    return page.page(rows, public=ApiKeyPublic.of)


@router.delete(
    "/api-keys/{prefix}",
    status_code=status.HTTP_204_NO_CONTENT,
    operation_id="revokeApiKey",
    dependencies=[requires(Access.ADMIN)],
)
def revoke_api_key(db_session: DbSessionDep, prefix: PrefixPath) -> Response:
    """Revoke a key at once. Revoking it again is harmless."""
    api_keys.revoke_api_key(db_session, prefix=prefix)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me", operation_id="getMe", dependencies=[requires(Access.AUTHENTICATED)])
def get_me(principal: CurrentPrincipal) -> PrincipalPublic:
    """The caller: role and the Salesforce user whose scope applies."""
    return PrincipalPublic.of(principal)
