"""Obtaining a Salesforce access token: JWT bearer, refresh token or client credentials.

salescoach talks OAuth itself, over the requests session every Salesforce call uses
(`transport.py`), and hands the session to simple-salesforce, whose own login builds
`*.salesforce.com` URLs and so cannot use a My Domain or the local emulator.
"""

from __future__ import annotations

import ssl
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from urllib.parse import urlparse

import requests
import structlog

from salescoach_core.settings import Settings
from salescoach_sync.errors import (
    NotConfiguredError,
    SalesforceAuthError,
    SalesforceUnavailableError,
    TransientError,
)
from salescoach_sync.transport import NETWORK_ERRORS, salesforce_session

log = structlog.get_logger(__name__)

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# A JWT assertion only has to live long enough to be exchanged.
ASSERTION_SECONDS = 180


@dataclass(frozen=True)
class AccessToken:
    access_token: str
    instance_url: str
    grant: str
    # From the identity URL (`.../id/<org id>/<user id>`): names the org in advisory lock keys.
    org_id: str

    def __repr__(self) -> str:  # never print the token
        return (
            f"AccessToken(instance_url={self.instance_url!r}, grant={self.grant!r}, org_id={self.org_id!r})"
        )


def choose_grant(settings: Settings) -> str:
    """The OAuth flow the settings describe, or NotConfiguredError naming what is missing."""
    if not settings.sf_client_id:
        raise NotConfiguredError(
            "no Salesforce connection configured: set SALESCOACH_SF_CLIENT_ID with "
            "SALESCOACH_SF_CLIENT_SECRET (client credentials), SALESCOACH_SF_USERNAME and "
            "SALESCOACH_SF_JWT_KEY_FILE (JWT bearer) or SALESCOACH_SF_REFRESH_TOKEN; "
            "`salescoach run` starts the local emulator when none is set"
        )
    if settings.sf_jwt_key_file is not None:
        if not settings.sf_username:
            raise NotConfiguredError(
                "SALESCOACH_SF_JWT_KEY_FILE needs SALESCOACH_SF_USERNAME (the integration user)"
            )
        return "jwt_bearer"
    if settings.sf_refresh_token is not None:
        return "refresh_token"
    if settings.sf_client_secret is not None:
        return "client_credentials"
    raise NotConfiguredError(
        "SALESCOACH_SF_CLIENT_ID is set but no way to log in: set SALESCOACH_SF_CLIENT_SECRET, "
        "SALESCOACH_SF_JWT_KEY_FILE with SALESCOACH_SF_USERNAME, or SALESCOACH_SF_REFRESH_TOKEN"
    )


def _jwt_audience(login_url: str) -> str:
    host = urlparse(login_url).hostname or ""
    sandbox = host == "test.salesforce.com" or host.endswith(".sandbox.my.salesforce.com")
    return "https://test.salesforce.com" if sandbox else "https://login.salesforce.com"


def _token_request(settings: Settings, grant: str) -> dict[str, str]:
    client_id = settings.sf_client_id or ""
    if grant == "jwt_bearer":
        assert settings.sf_jwt_key_file is not None
        try:
            key = settings.sf_jwt_key_file.read_bytes()
        except OSError as exc:
            raise NotConfiguredError(f"cannot read SALESCOACH_SF_JWT_KEY_FILE: {exc}") from exc
        claims = {
            "iss": client_id,
            "sub": settings.sf_username,
            "aud": _jwt_audience(settings.sf_login_url),
            "exp": int(time.time()) + ASSERTION_SECONDS,
        }
        # Imported for this flow only: PyJWT loads `cryptography`, a start-up cost the other
        # flows need not pay.
        import jwt

        return {"grant_type": JWT_BEARER, "assertion": jwt.encode(claims, key, algorithm="RS256")}
    if grant == "refresh_token":
        assert settings.sf_refresh_token is not None
        form = {
            "grant_type": "refresh_token",
            "client_id": client_id,
            "refresh_token": settings.sf_refresh_token.get_secret_value(),
        }
        if settings.sf_client_secret is not None:
            form["client_secret"] = settings.sf_client_secret.get_secret_value()
        return form
    assert settings.sf_client_secret is not None
    return {
        "grant_type": "client_credentials",
        "client_id": client_id,
        "client_secret": settings.sf_client_secret.get_secret_value(),
    }


def _check_ca_bundle(settings: Settings) -> None:
    """SALESCOACH_SF_CA_BUNDLE, when set, must hold PEM certificates: a configuration error
    names the file, where the TLS handshake would only say that verification failed."""
    if not settings.sf_ca_bundle:
        return
    try:
        ssl.create_default_context(cafile=str(settings.sf_ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise NotConfiguredError(
            f"SALESCOACH_SF_CA_BUNDLE={settings.sf_ca_bundle} cannot be read as PEM certificates ({exc}); "
            "point it at the CA file that signed the login URL's certificate, or unset it."
        ) from exc


def obtain_token(
    settings: Settings,
    *,
    session: requests.Session | None = None,
    sending: threading.Event | None = None,
) -> AccessToken:
    """Log in once, over `session` (a new one when None). Bad credentials raise
    SalesforceAuthError at once; outages TransientError. `sending` is set as the token request
    goes out."""
    grant = choose_grant(settings)
    url = settings.sf_login_url.rstrip("/") + "/services/oauth2/token"
    _check_ca_bundle(settings)
    form = _token_request(settings, grant)
    http = session or salesforce_session(settings)
    if sending is not None:
        sending.set()
    try:
        response = http.post(url, data=form)
    except (
        requests.exceptions.InvalidURL,
        requests.exceptions.InvalidSchema,
        requests.exceptions.MissingSchema,
    ) as exc:
        raise NotConfiguredError(
            f"SALESCOACH_SF_LOGIN_URL={settings.sf_login_url} is not an https URL ({exc}); "
            "e.g. https://login.salesforce.com or your My Domain URL."
        ) from exc
    except NETWORK_ERRORS as exc:
        if "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise SalesforceUnavailableError(
                f"TLS verification of {url} failed ({exc}). Set SALESCOACH_SF_CA_BUNDLE to the CA "
                "that signed its certificate (the emulator's ca.pem locally)."
            ) from exc
        raise TransientError(f"OAuth token request to {url} failed: {exc!r}") from exc
    finally:
        if session is None:
            http.close()
    if response.status_code >= 500:
        raise TransientError(f"OAuth token endpoint answered HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or "access_token" not in body:
        error = body.get("error", f"HTTP {response.status_code}") if isinstance(body, dict) else "?"
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        raise SalesforceAuthError(
            f"Salesforce refused the {grant} login at {url}: {error} ({description}). Check "
            "SALESCOACH_SF_CLIENT_ID and the credentials of that flow, that the connected app is "
            "approved for the integration user, and SALESCOACH_SF_LOGIN_URL (sandbox: "
            "https://test.salesforce.com or the My Domain URL)."
        )
    identity = str(body.get("id", ""))
    parts = [p for p in urlparse(identity).path.split("/") if p]
    org_id = parts[1] if len(parts) >= 3 and parts[0] == "id" else urlparse(body["instance_url"]).netloc
    token = AccessToken(
        access_token=str(body["access_token"]),
        instance_url=str(body["instance_url"]).rstrip("/"),
        grant=grant,
        org_id=org_id,
    )
    log.info("salesforce_logged_in", grant=grant, instance_url=token.instance_url, org_id=org_id)
    return token


def start_login(settings: Settings) -> Future[AccessToken]:
    """`obtain_token` on a thread of its own, returning once the token request is going out: the
    round trip then overlaps the sync's imports and set-up (`salescoach sync run`). Waiting for
    the request keeps those imports, which hold the GIL, from delaying it."""
    future: Future[AccessToken] = Future()
    sending = threading.Event()

    def login() -> None:
        try:
            future.set_result(obtain_token(settings, sending=sending))
        except Exception as exc:
            future.set_exception(exc)
        finally:
            sending.set()

    # A daemon: a command that fails before it needs the token does not wait for the login.
    threading.Thread(target=login, name="salesforce-login", daemon=True).start()
    sending.wait()
    return future
