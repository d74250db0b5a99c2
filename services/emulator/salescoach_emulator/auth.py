"""Authentication: the connected app's credentials, access/refresh tokens, OAuth2 grants,
JWT bearer verification and the SOAP ``login()`` envelope.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ORG_ID = "00D5g000000EMULAAE"
JWT_AUDIENCES = ("https://login.salesforce.com", "https://test.salesforce.com")


@dataclass(frozen=True)
class Credentials:
    """The connected app and integration user a client logs in with."""

    client_id: str
    client_secret: str
    username: str
    password: str

    @classmethod
    def load_or_create(cls, state_dir: Path) -> Credentials:
        """Stable across restarts of one state dir, so a configured client keeps working."""
        path = state_dir / "credentials.json"
        if path.exists():
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        creds = cls(
            client_id="3MVG9" + secrets.token_urlsafe(60)[:80],
            client_secret=secrets.token_hex(32).upper(),
            username="integration@salescoach-emulator.example",
            password=secrets.token_urlsafe(12),
        )
        path.write_text(json.dumps(asdict(creds), indent=2), encoding="utf-8")
        path.chmod(0o600)
        return creds


@dataclass(frozen=True)
class JwtKeys:
    """The connected app's certificate key pair; tests sign JWT bearer assertions with it."""

    private_key_path: Path
    public_key_pem: bytes

    @classmethod
    def load_or_create(cls, state_dir: Path) -> JwtKeys:
        jwt_dir = state_dir / "jwt"
        jwt_dir.mkdir(parents=True, exist_ok=True)
        private_path, public_path = jwt_dir / "private.pem", jwt_dir / "public.pem"
        if not (private_path.exists() and public_path.exists()):
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            private_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            private_path.chmod(0o600)
            public_path.write_bytes(
                key.public_key().public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                )
            )
        return cls(private_path, public_path.read_bytes())


class OAuthError(Exception):
    """A token endpoint refusal: ``{"error": ..., "error_description": ...}`` with 400."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


@dataclass
class Session:
    client_id: str
    expires_at: float | None


class TokenStore:
    """Issued access tokens (with expiry), refresh tokens and authorization codes."""

    def __init__(self, ttl: float | None) -> None:
        self.ttl = ttl
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._refresh: dict[str, str] = {}
        self._codes: dict[str, tuple[str, str]] = {}
        self.issued = 0

    def issue(self, client_id: str) -> str:
        token = f"{ORG_ID[:15]}!{secrets.token_urlsafe(72)}"
        expires = time.monotonic() + self.ttl if self.ttl else None
        with self._lock:
            self._sessions[token] = Session(client_id, expires)
            self.issued += 1
        return token

    def valid(self, token: str) -> bool:
        with self._lock:
            session = self._sessions.get(token)
            if session is None:
                return False
            if session.expires_at is not None and time.monotonic() >= session.expires_at:
                del self._sessions[token]
                return False
            return True

    def revoke(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)
            self._refresh.pop(token, None)

    def revoke_all(self) -> int:
        with self._lock:
            count = len(self._sessions)
            self._sessions.clear()
            return count

    def issue_refresh(self, client_id: str) -> str:
        token = f"5Aep{secrets.token_urlsafe(60)}"
        with self._lock:
            self._refresh[token] = client_id
        return token

    def refresh_client(self, token: str) -> str | None:
        with self._lock:
            return self._refresh.get(token)

    def issue_code(self, client_id: str, redirect_uri: str) -> str:
        code = f"aPrx{secrets.token_urlsafe(40)}"
        with self._lock:
            self._codes[code] = (client_id, redirect_uri)
        return code

    def take_code(self, code: str) -> tuple[str, str] | None:
        with self._lock:
            return self._codes.pop(code, None)


def token_signature(identity_url: str, issued_at: str, secret: str) -> str:
    """Salesforce's ``signature``: base64 HMAC-SHA256 of id + issued_at keyed by the secret."""
    digest = hmac.new(secret.encode(), (identity_url + issued_at).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def verify_jwt_assertion(
    assertion: str, *, public_key_pem: bytes, creds: Credentials, login_url: str
) -> None:
    """Check a JWT bearer assertion as Salesforce does: RS256, iss, sub, aud, exp."""
    try:
        claims = jwt.decode(
            assertion,
            public_key_pem,
            algorithms=["RS256"],
            audience=[*JWT_AUDIENCES, login_url],
            options={"require": ["iss", "sub", "aud", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise OAuthError("invalid_grant", "expired authorization code") from None
    except jwt.InvalidAudienceError:
        raise OAuthError("invalid_grant", "audience is invalid") from None
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "invalid assertion") from None
    if claims.get("iss") != creds.client_id:
        raise OAuthError("invalid_client_id", "client identifier invalid")
    if claims.get("sub") != creds.username:
        raise OAuthError("invalid_grant", "user hasn't approved this consumer")


def soap_credentials(body: bytes) -> tuple[str, str]:
    """Username and password from a SOAP ``login()`` envelope."""
    # ElementTree does not fetch external entities, and modern expat caps entity expansion;
    # the endpoint serves loopback test clients only.
    root = ET.fromstring(body)  # noqa: S314
    found: dict[str, str] = {}
    for element in root.iter():
        local = element.tag.rsplit("}", 1)[-1]
        if local in ("username", "password"):
            found[local] = element.text or ""
    return found.get("username", ""), found.get("password", "")


def soap_login_response(
    *, server_url: str, session_id: str, user_id: str, username: str, ttl: float | None
) -> str:
    seconds = int(ttl) if ttl else 7200
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns="urn:partner.soap.sforce.com"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><loginResponse><result>"
        f"<metadataServerUrl>{escape(server_url.replace('/u/', '/m/'))}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>false</sandbox>"
        f"<serverUrl>{escape(server_url)}</serverUrl>"
        f"<sessionId>{escape(session_id)}</sessionId>"
        f"<userId>{user_id}</userId>"
        f"<userInfo><organizationId>{ORG_ID}</organizationId>"
        f"<sessionSecondsValid>{seconds}</sessionSecondsValid>"
        f"<userId>{user_id}</userId><userName>{escape(username)}</userName></userInfo>"
        "</result></loginResponse></soapenv:Body></soapenv:Envelope>"
    )


def soap_fault(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:sf="urn:fault.partner.soap.sforce.com"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
        "<soapenv:Body><soapenv:Fault>"
        f"<faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring>"
        '<detail><sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"
    )
