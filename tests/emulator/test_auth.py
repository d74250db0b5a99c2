"""OAuth2 grants, JWT bearer, SOAP login and token expiry against the emulator."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce, SalesforceLogin
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from salescoach_emulator import EmulatorHandle
from tests.plugins.emulator import EmulatorFactory, client_session, salesforce_client


def _token(emu: EmulatorHandle, **form: str) -> tuple[int, dict[str, str]]:
    response = client_session(emu).post(f"{emu.login_url}/services/oauth2/token", data=form)
    return response.status_code, response.json()


def test_client_credentials_and_password_grants_issue_working_tokens(emulator: EmulatorHandle) -> None:
    status, body = _token(
        emulator,
        grant_type="client_credentials",
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
    )
    assert status == 200
    assert {"access_token", "instance_url", "id", "token_type", "issued_at", "signature"} <= set(body)
    assert body["token_type"] == "Bearer"
    assert body["instance_url"] == emulator.instance_url
    status, password = _token(
        emulator,
        grant_type="password",
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        username=emulator.username,
        password=emulator.password,
    )
    assert status == 200
    sf = salesforce_client(emulator, token=password["access_token"])
    assert sf.query("SELECT COUNT() FROM User")["totalSize"] > 0


def test_bad_credentials_get_salesforce_oauth_errors(emulator: EmulatorHandle) -> None:
    base = {"client_id": emulator.client_id, "client_secret": emulator.client_secret}
    assert _token(emulator, grant_type="password", username=emulator.username, password="wrong", **base) == (
        400,
        {"error": "invalid_grant", "error_description": "authentication failure"},
    )
    status, body = _token(
        emulator, grant_type="client_credentials", client_id=emulator.client_id, client_secret="x"
    )
    assert (status, body["error"]) == (400, "invalid_client")
    status, body = _token(emulator, grant_type="client_credentials", client_id="nope", client_secret="x")
    assert (status, body["error"]) == (400, "invalid_client_id")
    status, body = _token(emulator, grant_type="magic", **base)
    assert (status, body["error"]) == (400, "unsupported_grant_type")


def _assertion(emu: EmulatorHandle, key: bytes, **overrides: object) -> str:
    claims: dict[str, object] = {
        "iss": emu.client_id,
        "sub": emu.username,
        "aud": "https://login.salesforce.com",
        "exp": int((datetime.now(UTC) + timedelta(minutes=3)).timestamp()),
        **overrides,
    }
    return jwt.encode(claims, key, algorithm="RS256")


def test_jwt_bearer_grant_checks_the_signature(emulator: EmulatorHandle) -> None:
    key = Path(emulator.jwt_private_key).read_bytes()
    grant = "urn:ietf:params:oauth:grant-type:jwt-bearer"
    status, body = _token(emulator, grant_type=grant, assertion=_assertion(emulator, key))
    assert status == 200
    assert body["access_token"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert _token(emulator, grant_type=grant, assertion=_assertion(emulator, stranger)) == (
        400,
        {"error": "invalid_grant", "error_description": "invalid assertion"},
    )
    status, body = _token(emulator, grant_type=grant, assertion=_assertion(emulator, key, sub="someone@else"))
    assert (status, body["error"]) == (400, "invalid_grant")
    expired = _assertion(emulator, key, exp=int(time.time()) - 60)
    assert _token(emulator, grant_type=grant, assertion=expired)[0] == 400


def test_authorization_code_then_refresh_token(emulator: EmulatorHandle) -> None:
    session = client_session(emulator)
    redirect = session.get(
        f"{emulator.login_url}/services/oauth2/authorize",
        params={
            "response_type": "code",
            "client_id": emulator.client_id,
            "redirect_uri": "http://localhost/cb",
        },
        allow_redirects=False,
    )
    assert redirect.status_code == 302
    code = parse_qs(urlparse(redirect.headers["location"]).query)["code"][0]
    status, body = _token(
        emulator,
        grant_type="authorization_code",
        code=code,
        client_id=emulator.client_id,
        client_secret=emulator.client_secret,
        redirect_uri="http://localhost/cb",
    )
    assert status == 200
    assert body["refresh_token"]
    status, refreshed = _token(
        emulator,
        grant_type="refresh_token",
        refresh_token=body["refresh_token"],
        client_id=emulator.client_id,
    )
    assert status == 200
    assert refreshed["access_token"] != body["access_token"]
    assert (
        _token(emulator, grant_type="refresh_token", refresh_token="bogus", client_id=emulator.client_id)[0]
        == 400
    )


def test_soap_login_with_simple_salesforce(emulator: EmulatorHandle) -> None:
    session_id, instance = SalesforceLogin(
        username=emulator.username,
        password=emulator.password,
        session=client_session(emulator),
        scratch_url=emulator.login_url,
    )
    assert instance == emulator.instance_url.removeprefix("https://")
    sf = salesforce_client(emulator, token=session_id)
    assert sf.query("SELECT COUNT() FROM Opportunity")["totalSize"] > 0
    with pytest.raises(SalesforceAuthenticationFailed) as caught:
        SalesforceLogin(
            username=emulator.username,
            password="wrong",
            session=client_session(emulator),
            scratch_url=emulator.login_url,
        )
    assert caught.value.code == "INVALID_LOGIN"


def test_tokens_expire_after_the_ttl(emulator_factory: EmulatorFactory) -> None:
    emu = emulator_factory(token_ttl=0.5)
    sf: Salesforce = salesforce_client(emu)
    sf.query("SELECT Id FROM User LIMIT 1")
    time.sleep(0.7)
    with pytest.raises(SalesforceExpiredSession) as caught:
        sf.query("SELECT Id FROM User LIMIT 1")
    assert caught.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert salesforce_client(emu).query("SELECT COUNT() FROM User")["totalSize"] > 0
