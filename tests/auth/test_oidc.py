"""OIDC access tokens against a JWKS served over HTTP on 127.0.0.1 by a thread of this test.

The verifier fetches keys through its real path (PyJWKClient over urllib), so caching and the
refetch on an unknown `kid` (key rotation) are exercised for real.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from fastapi.testclient import TestClient
from jwt.algorithms import RSAAlgorithm
from jwt.utils import base64url_encode
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_api.dependencies import get_db_session
from salescoach_core.database import Database
from salescoach_core.settings import Settings
from tests.plugins.auth import Org, bearer

ISSUER = "https://idp.example.test/"
AUDIENCE = "salescoach-api"


@dataclass
class IdentityProvider:
    """Signs tokens and serves its public keys as a JWKS; counts JWKS fetches."""

    keys: dict[str, RSAPrivateKey] = field(default_factory=dict)
    published: list[str] = field(default_factory=list)
    fetches: int = 0
    url: str = ""

    def add_key(self, kid: str, *, publish: bool = True) -> None:
        self.keys[kid] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if publish:
            self.published.append(kid)

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid in self.published:
            jwk = json.loads(RSAAlgorithm.to_jwk(self.keys[kid].public_key()))
            keys.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": keys}

    def token(self, kid: str = "k1", *, headers: dict[str, Any] | None = None, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "user-123",
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "email": "amy.rep@example.com",
            "email_verified": True,
            "roles": ["rep"],
            **overrides,
        }
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.keys[kid], algorithm="RS256", headers={"kid": kid, **(headers or {})})


@pytest.fixture
def idp() -> Iterator[IdentityProvider]:
    provider = IdentityProvider()
    provider.add_key("k1")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.fetches += 1
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    yield provider
    server.shutdown()
    server.server_close()


@pytest.fixture
def oidc_client(
    settings: Settings, database: Database, db_session: Session, idp: IdentityProvider
) -> Iterator[TestClient]:
    oidc_settings = settings.model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": idp.url,
            "oidc_role_map": {},
            # Rotation is tested below; the production default waits 30 s between refetches.
            "oidc_jwks_refresh_cooldown_seconds": 0.0,
        }
    )
    app: FastAPI = create_app(oidc_settings, database)
    app.dependency_overrides[get_db_session] = lambda: db_session
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def me(client: TestClient, token: str) -> Any:
    return client.get("/v1/me", headers=bearer(token))


def test_a_valid_token_maps_by_email_to_the_rep(
    oidc_client: TestClient, idp: IdentityProvider, org: Org
) -> None:
    response = me(oidc_client, idp.token())
    assert response.status_code == 200, response.text
    assert response.json() == {
        "kind": "oidc",
        "subject": "user-123",
        "name": "amy.rep@example.com",
        "role": "rep",
        "sf_user_id": org.rep_a1.id,
    }


def test_a_manager_token_sees_only_its_org(oidc_client: TestClient, idp: IdentityProvider, org: Org) -> None:
    token = idp.token(email="ann.manager@example.com", roles="manager")
    assert me(oidc_client, token).json()["sf_user_id"] == org.manager_a.id
    reps = oidc_client.get("/v1/reps", headers=bearer(token))
    assert reps.status_code == 200
    ids = {rep["id"] for rep in reps.json()["items"]}
    assert org.rep_b1.id not in ids
    assert org.rep_a1.id in ids


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"exp": int(time.time()) - 3600}, "token_expired"),
        ({"aud": "someone-else"}, "unauthorized"),
        ({"iss": "https://evil.example.test/"}, "unauthorized"),
        ({"nbf": int(time.time()) + 3600}, "unauthorized"),
        ({"exp": None}, "unauthorized"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "not-yet-valid", "no-exp"],
)
def test_invalid_claims_are_refused_with_401(
    oidc_client: TestClient, idp: IdentityProvider, org: Org, overrides: dict[str, Any], code: str
) -> None:
    response = me(oidc_client, idp.token(**overrides))
    assert response.status_code == 401
    assert response.json()["code"] == code
    assert response.headers["www-authenticate"] == 'Bearer realm="salescoach", error="invalid_token"'


def test_alg_none_is_refused_before_any_key_is_fetched(
    oidc_client: TestClient, idp: IdentityProvider, org: Org
) -> None:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": now + 300, "roles": ["admin"]}
    unsigned = jwt.encode(claims, key=None, algorithm="none", headers={"kid": "k1"})
    response = me(oidc_client, unsigned)
    assert response.status_code == 401
    assert "'none' is not accepted" in response.json()["detail"]
    assert idp.fetches == 0


def test_hs256_signed_with_the_public_key_is_refused(
    oidc_client: TestClient, idp: IdentityProvider, org: Org
) -> None:
    # The classic confusion attack: HMAC keyed with the RSA public key the IdP publishes.
    # Signed by hand, since PyJWT itself refuses to use a public key as an HMAC secret.
    public_pem = idp.keys["k1"].public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 300, "roles": "admin"}
    signing_input = b".".join(
        base64url_encode(json.dumps(part).encode()) for part in ({"alg": "HS256", "kid": "k1"}, claims)
    )
    signature = base64url_encode(hmac.new(public_pem, signing_input, hashlib.sha256).digest())
    response = me(oidc_client, (signing_input + b"." + signature).decode())
    assert response.status_code == 401
    assert "'HS256' is not accepted" in response.json()["detail"]


def test_an_unknown_kid_is_refused(oidc_client: TestClient, idp: IdentityProvider, org: Org) -> None:
    idp.add_key("unpublished", publish=False)
    response = me(oidc_client, idp.token("unpublished"))
    assert response.status_code == 401
    assert response.json()["detail"] == "The token is not signed by a key of the identity provider."


def test_a_token_signed_by_another_key_with_a_known_kid_is_refused(
    oidc_client: TestClient, idp: IdentityProvider, org: Org
) -> None:
    idp.add_key("impostor", publish=False)
    token = jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 300, "roles": "admin"},
        idp.keys["impostor"],
        algorithm="RS256",
        headers={"kid": "k1"},
    )
    assert me(oidc_client, token).status_code == 401


def test_a_rotated_key_is_fetched_on_its_first_token_then_cached(
    oidc_client: TestClient, idp: IdentityProvider, org: Org
) -> None:
    assert me(oidc_client, idp.token("k1")).status_code == 200
    assert idp.fetches == 1
    idp.add_key("k2")  # the IdP rotates: k2 is published after our cache was filled
    assert me(oidc_client, idp.token("k2")).status_code == 200
    assert idp.fetches == 2
    assert me(oidc_client, idp.token("k2")).status_code == 200
    assert me(oidc_client, idp.token("k1")).status_code == 200
    assert idp.fetches == 2


def test_a_token_without_a_mapped_role_is_forbidden(
    oidc_client: TestClient, idp: IdentityProvider, org: Org
) -> None:
    response = me(oidc_client, idp.token(roles=["sales-people"]))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_a_rep_token_whose_email_matches_no_user_is_forbidden(
    oidc_client: TestClient, idp: IdentityProvider, org: Org
) -> None:
    response = me(oidc_client, idp.token(email="nobody@example.com"))
    assert response.status_code == 403


@pytest.mark.parametrize(
    "email_verified", [False, "true", "True", 1, [True], {"value": True}, None], ids=repr
)
def test_an_email_is_used_only_when_email_verified_is_the_boolean_true(
    oidc_client: TestClient, idp: IdentityProvider, org: Org, email_verified: Any
) -> None:
    # None leaves the claim out: an IdP that does not vouch for the address is not trusted either.
    response = me(oidc_client, idp.token(email_verified=email_verified))

    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_role_map_and_sf_user_id_claim_from_settings(
    settings: Settings, database: Database, db_session: Session, idp: IdentityProvider, org: Org
) -> None:
    mapped = settings.model_copy(
        update={
            "oidc_issuer": ISSUER,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": idp.url,
            "oidc_role_claim": "realm_access.roles",
            "oidc_role_map": {"sales-managers": "manager", "sales-reps": "rep"},
            "oidc_sf_user_id_claim": "https://salescoach.example/sf_user_id",
        }
    )
    app = create_app(mapped, database)
    app.dependency_overrides[get_db_session] = lambda: db_session
    token = idp.token(
        email=None,
        roles=None,
        realm_access={"roles": ["offline_access", "sales-reps", "sales-managers"]},
        **{"https://salescoach.example/sf_user_id": org.manager_a.id[:15]},
    )
    with TestClient(app, raise_server_exceptions=False) as client:
        body = me(client, token).json()
    assert (body["role"], body["sf_user_id"]) == ("manager", org.manager_a.id)


def test_without_oidc_a_jwt_is_refused(client: TestClient, idp: IdentityProvider) -> None:
    response = client.get("/v1/me", headers=bearer(idp.token()))
    assert response.status_code == 401
    assert "OIDC is not configured" in response.json()["detail"]
