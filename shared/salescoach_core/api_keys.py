"""API keys: create (shown once), authenticate, list, revoke, and the demo admin key.

A key is `sc_live_` + 8 hex characters (together the visible prefix that names the key) + `_` +
43 URL-safe characters from 256 random bits. Only the SHA-256 of the whole key is stored. A
slow password hash (argon2, bcrypt) defends low-entropy secrets against guessing after a
database leak; a 256-bit random secret cannot be guessed either way, and a fast hash keeps
every authenticated request cheap (docs/auth.md, "API keys").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog
from sqlalchemy import select
from sqlmodel import Session, col

from salescoach_core.access import Principal, sf_user_exists
from salescoach_core.errors import NotFoundError, UnprocessableError
from salescoach_core.keyset import Keyset
from salescoach_core.models import ApiKey
from salescoach_core.models.auth import API_KEY_PREFIX_LENGTH
from salescoach_core.roles import Role
from salescoach_core.sfids import to18

log = structlog.get_logger(__name__)

KEY_SCHEME = "sc_live_"
DEMO_KEY_FILE = "demo-admin-key"
DEMO_KEY_NAME = "demo admin (salescoach run)"


class UnknownSfUserError(UnprocessableError):
    code = "unknown_sf_user"
    title = "Unknown Salesforce user"


class SfUserRequiredError(UnprocessableError):
    code = "sf_user_required"
    title = "Salesforce user required"


class ApiKeyNotFoundError(NotFoundError):
    code = "api_key_not_found"
    title = "API key not found"
    template = "No API key has the prefix {id!r}; `GET /v1/api-keys` lists them."


@dataclass(frozen=True)
class NewApiKey:
    """A freshly created key: the row, and the plaintext that is never stored."""

    row: ApiKey
    plaintext: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def looks_like_api_key(token: str) -> bool:
    return token.startswith(KEY_SCHEME)


def create_api_key(session: Session, *, name: str, role: Role, sf_user_id: str | None) -> NewApiKey:
    """Create a key; manager and rep keys must name a synced Salesforce user (their scope)."""
    if role.needs_sf_user and sf_user_id is None:
        raise SfUserRequiredError(f"A {role.value} key needs sf_user_id: their records define its scope.")
    if sf_user_id is not None:
        sf_user_id = _synced_user_id(session, sf_user_id)
    while True:
        prefix = KEY_SCHEME + secrets.token_hex(4)
        # 32 bits of prefix collide rarely, but the prefix is unique and names the key.
        if session.scalars(select(col(ApiKey.id)).where(col(ApiKey.prefix) == prefix)).first() is None:
            break
    assert len(prefix) == API_KEY_PREFIX_LENGTH
    plaintext = f"{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey(
        prefix=prefix, key_hash=hash_key(plaintext), name=name, role=role.value, sf_user_id=sf_user_id
    )
    session.add(row)
    session.flush()
    session.refresh(row)
    log.info("api_key_created", prefix=prefix, role=role.value)
    return NewApiKey(row=row, plaintext=plaintext)


def _synced_user_id(session: Session, value: str) -> str:
    try:
        user_id = to18(value)
    except ValueError as exc:
        raise UnknownSfUserError(f"sf_user_id: {exc}.") from exc
    if not sf_user_exists(session, user_id):
        raise UnknownSfUserError(
            f"No Salesforce user {value!r} has been synced; run a sync first or check the id."
        )
    return user_id


def authenticate_api_key(session: Session, plaintext: str) -> Principal | None:
    """The principal of an active key, or None for an unknown, malformed or revoked one."""
    prefix = plaintext[:API_KEY_PREFIX_LENGTH]
    row = session.scalars(
        select(ApiKey).where(col(ApiKey.prefix) == prefix, col(ApiKey.revoked_at).is_(None))
    ).first()
    if row is None or not hmac.compare_digest(row.key_hash, hash_key(plaintext)):
        return None
    return Principal(
        kind="api_key", subject=row.prefix, name=row.name, role=Role(row.role), sf_user_id=row.sf_user_id
    )


def list_api_keys(session: Session, *, keyset: Keyset | None = None) -> Sequence[ApiKey]:
    """The keys, revoked ones too (so an audit sees them): one page in `keyset`'s order, or
    every key by prefix."""
    if keyset is not None:
        return keyset.fetch(session, select(ApiKey))
    return session.scalars(select(ApiKey).order_by(col(ApiKey.prefix))).all()


def revoke_api_key(session: Session, *, prefix: str) -> ApiKey:
    """Revoke a key by its prefix; revoking a revoked key is a no-op (DELETE is idempotent)."""
    row = session.scalars(select(ApiKey).where(col(ApiKey.prefix) == prefix)).first()
    if row is None:
        raise ApiKeyNotFoundError.of(prefix)
    if row.revoked_at is None:
        row.revoked_at = datetime.now(UTC)
        session.add(row)
        session.flush()
        log.info("api_key_revoked", prefix=prefix)
    return row


def ensure_demo_admin_key(session: Session, state_dir: Path) -> str:
    """The demo's admin key: created once, kept in `state_dir/demo-admin-key` (mode 0600).

    Returns the stored key while it still authenticates as an admin; after a revoke or a
    database reset it creates and stores a new one. The caller commits the session.
    """
    path = state_dir / DEMO_KEY_FILE
    if path.exists():
        stored = path.read_text().strip()
        principal = authenticate_api_key(session, stored)
        if principal is not None and principal.role is Role.ADMIN:
            return stored
    new = create_api_key(session, name=DEMO_KEY_NAME, role=Role.ADMIN, sf_user_id=None)
    state_dir.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.unlink(missing_ok=True)
    # Created 0600 from the start: the key must never be readable by others, even briefly.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(new.plaintext + "\n")
    temporary.replace(path)
    return new.plaintext
