"""OAuth2 (token grants, the auto-approved web-server flow, revoke, userinfo and the identity URL)
and SOAP ``login()``."""

from __future__ import annotations

import base64
import binascii
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import structlog
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from salescoach_emulator.api.common import json_response
from salescoach_emulator.auth import (
    ORG_ID,
    OAuthError,
    soap_credentials,
    soap_fault,
    soap_login_response,
    token_signature,
    verify_jwt_assertion,
)

if TYPE_CHECKING:
    from salescoach_emulator.server import Emulator

log = structlog.get_logger(__name__)


class OAuth:
    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.config = emulator.config
        self.tokens = emulator.tokens
        self.store = emulator.store

    def routes(self) -> list[Route]:
        api = self.emulator.api
        return [
            Route("/services/oauth2/token", self.oauth_token, methods=["POST"]),
            Route("/services/oauth2/authorize", self.oauth_authorize, methods=["GET"]),
            Route("/services/oauth2/revoke", self.oauth_revoke, methods=["GET", "POST"]),
            Route("/services/oauth2/userinfo", api("userinfo", count=False)(self.userinfo), methods=["GET"]),
            Route("/id/{org_id}/{user_id}", api("identity", count=False)(self.userinfo), methods=["GET"]),
            Route("/services/Soap/u/{version}", self.soap_login, methods=["POST"]),
            Route("/services/Soap/u/{version}/{org_id}", self.soap_login, methods=["POST"]),
        ]

    @property
    def identity_url(self) -> str:
        return f"{self.config.base_url}/id/{ORG_ID}/{self.store.user_id}"

    def _token_body(self, client_id: str, *, refresh: bool = False) -> dict[str, Any]:
        issued_at = str(int(time.time() * 1000))
        creds = self.config.credentials
        body: dict[str, Any] = {
            "access_token": self.tokens.issue(client_id),
            "instance_url": self.config.base_url,
            "id": self.identity_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
            "signature": token_signature(self.identity_url, issued_at, creds.client_secret),
            "scope": "api refresh_token",
        }
        if refresh:
            body["refresh_token"] = self.tokens.issue_refresh(client_id)
        return body

    def _check_client(
        self, client_id: str | None, client_secret: str | None, *, secret_required: bool
    ) -> str:
        creds = self.config.credentials
        if client_id != creds.client_id:
            raise OAuthError("invalid_client_id", "client identifier invalid")
        if secret_required and client_secret != creds.client_secret:
            raise OAuthError("invalid_client", "invalid client credentials")
        return client_id

    async def oauth_token(self, request: Request) -> Response:
        self.emulator.stats.handlers["oauth_token"] += 1
        form = await request.form()
        params = {k: str(v) for k, v in form.items()}
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(basic[6:]).decode()
            except (ValueError, binascii.Error):
                decoded = ":"
            cid, _, secret = decoded.partition(":")
            params.setdefault("client_id", cid)
            params.setdefault("client_secret", secret)
        creds = self.config.credentials
        grant = params.get("grant_type", "")
        try:
            if grant == "client_credentials":
                client = self._check_client(
                    params.get("client_id"), params.get("client_secret"), secret_required=True
                )
                body = self._token_body(client)
            elif grant == "password":
                client = self._check_client(
                    params.get("client_id"), params.get("client_secret"), secret_required=True
                )
                if params.get("username") != creds.username or params.get("password") != creds.password:
                    raise OAuthError("invalid_grant", "authentication failure")
                body = self._token_body(client)
            elif grant == "refresh_token":
                client = self._check_client(
                    params.get("client_id"), params.get("client_secret"), secret_required=False
                )
                if "client_secret" in params and params["client_secret"] != creds.client_secret:
                    raise OAuthError("invalid_client", "invalid client credentials")
                if self.tokens.refresh_client(params.get("refresh_token", "")) != client:
                    raise OAuthError("invalid_grant", "expired access/refresh token")
                body = self._token_body(client)
            elif grant == "authorization_code":
                client = self._check_client(
                    params.get("client_id"), params.get("client_secret"), secret_required=True
                )
                issued = self.tokens.take_code(params.get("code", ""))
                if issued is None or issued[0] != client or issued[1] != params.get("redirect_uri"):
                    raise OAuthError("invalid_grant", "invalid authorization code")
                body = self._token_body(client, refresh=True)
            elif grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
                verify_jwt_assertion(
                    params.get("assertion", ""),
                    public_key_pem=self.config.jwt_keys.public_key_pem,
                    creds=creds,
                    login_url=self.config.base_url,
                )
                body = self._token_body(creds.client_id)
                del body["scope"]
            else:
                raise OAuthError("unsupported_grant_type", "grant type not supported")
        except OAuthError as exc:
            log.info("emulator.oauth_refused", grant=grant, error=exc.error)
            return json_response({"error": exc.error, "error_description": exc.description}, exc.status)
        log.info("emulator.oauth_token_issued", grant=grant)
        return json_response(body)

    async def oauth_authorize(self, request: Request) -> Response:
        """The web-server flow, auto-approved (no login page): redirects back with a code."""
        params = request.query_params
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.config.credentials.client_id or not redirect_uri:
            return json_response(
                {"error": "invalid_client_id", "error_description": "client identifier invalid"}, 400
            )
        if params.get("response_type") != "code":
            return json_response(
                {"error": "unsupported_response_type", "error_description": "response type not supported"},
                400,
            )
        code = self.tokens.issue_code(params["client_id"], redirect_uri)
        query = {"code": code, **({"state": params["state"]} if "state" in params else {})}
        separator = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)

    async def oauth_revoke(self, request: Request) -> Response:
        token = request.query_params.get("token") or str((await request.form()).get("token", ""))
        self.tokens.revoke(token)
        return Response(status_code=200)

    async def userinfo(self, request: Request) -> Response:
        creds = self.config.credentials
        return json_response(
            {
                "id": self.identity_url,
                "user_id": self.store.user_id,
                "organization_id": ORG_ID,
                "username": creds.username,
                "preferred_username": creds.username,
                "display_name": "Integration User",
                "active": True,
                "urls": {
                    "rest": f"{self.config.base_url}/services/data/v{{version}}/",
                    "sobjects": f"{self.config.base_url}/services/data/v{{version}}/sobjects/",
                    "query": f"{self.config.base_url}/services/data/v{{version}}/query/",
                },
            }
        )

    async def soap_login(self, request: Request) -> Response:
        self.emulator.stats.handlers["soap_login"] += 1
        creds = self.config.credentials
        try:
            username, password = soap_credentials(await request.body())
        except Exception:  # any unparsable envelope is a client error, as in Salesforce
            return Response(soap_fault("INVALID_LOGIN", "Invalid SOAP envelope"), 500, media_type="text/xml")
        if username != creds.username or password != creds.password:
            body = soap_fault(
                "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
            )
            return Response(body, 500, media_type="text/xml")
        version = request.path_params["version"]
        server_url = f"{self.config.base_url}/services/Soap/u/{version}/{ORG_ID[:15]}"
        body = soap_login_response(
            server_url=server_url,
            session_id=self.tokens.issue(creds.client_id),
            user_id=self.store.user_id,
            username=creds.username,
            ttl=self.config.token_ttl,
        )
        return Response(body, 200, media_type="text/xml")
