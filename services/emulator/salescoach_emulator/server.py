"""The emulator's HTTP core: the ASGI app, fault injection, routing to the protocol handlers in
``api/`` (REST, Bulk 2.0, Bulk 1.0, OAuth2 and SOAP login, the ``/__emulator/`` admin endpoints),
and what every REST call shares: version check, session check, API accounting, error mapping.

Every store call runs in the thread pool so a long query never stalls the event loop (and
injected delays stay accurate).
"""

from __future__ import annotations

import asyncio
import functools
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from salescoach_emulator.api.admin import Admin
from salescoach_emulator.api.bulk1 import Bulk1
from salescoach_emulator.api.bulk2 import Bulk2
from salescoach_emulator.api.common import MAX_VERSION, MIN_VERSION, ApiError, error_body, json_response
from salescoach_emulator.api.composite import SUBREQUEST_SCOPE_KEY
from salescoach_emulator.api.discovery import Discovery
from salescoach_emulator.api.oauth import OAuth
from salescoach_emulator.api.query import Queries
from salescoach_emulator.api.sobjects import SObjects
from salescoach_emulator.auth import Credentials, JwtKeys, TokenStore
from salescoach_emulator.faults import Decision, FaultEngine
from salescoach_emulator.soql import SoqlError
from salescoach_emulator.store.errors import RecordError
from salescoach_emulator.store.org import OrgStore

log = structlog.get_logger(__name__)

Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class EmulatorConfig:
    credentials: Credentials
    jwt_keys: JwtKeys
    token_ttl: float | None = 7200.0
    daily_api_limit: int = 100_000
    base_url: str = ""  # set once the socket is bound


@dataclass
class Stats:
    handlers: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)


class Emulator:
    """The ASGI application. ``emulator.asgi`` is what uvicorn serves."""

    def __init__(self, store: OrgStore, config: EmulatorConfig, faults: str | None = None) -> None:
        self.store = store
        self.config = config
        self.tokens = TokenStore(config.token_ttl)
        self.faults = FaultEngine()
        self.stats = Stats()
        self.api_used = 0
        self._usage_lock = threading.Lock()
        self.discovery = Discovery(self)
        self.queries = Queries(self)
        self.sobjects = SObjects(self)
        self.bulk2 = Bulk2(self)
        self.bulk1 = Bulk1(self)
        self.oauth = OAuth(self)
        self.admin = Admin(self)
        if faults:
            self.apply_faults(faults)
        self.app = Starlette(routes=self._routes())

    def _routes(self) -> list[Route]:
        v = "/services/data/v{version}"
        return [
            *self.discovery.routes(v),
            *self.queries.routes(v),
            *self.sobjects.routes(v),
            *self.bulk2.routes(v),
            *self.oauth.routes(),
            *self.admin.routes(),
            *self.bulk1.routes(),
        ]

    # ------------------------------------------------------------------ ASGI entry

    async def asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Outermost layer: trailing-slash folding and fault injection, then routing."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if len(path) > 1 and path.endswith("/"):
            scope = {**scope, "path": path.rstrip("/")}
            path = scope["path"]
        if not path.startswith("/__emulator"):
            decision = self.faults.decide(
                path, is_write=scope["method"] in ("POST", "PATCH", "DELETE", "PUT")
            )
            scope = {**scope, "emulator.fault": decision}
            if decision.delay:
                self.stats.faults["delay"] += 1
                await asyncio.sleep(decision.delay)
            if decision.drop and self._drop_connection(send):
                self.stats.faults["drop"] += 1
                return
            if decision.status:
                self.stats.faults[f"status_{decision.status}"] += 1
                code = "SERVER_UNAVAILABLE" if decision.status == 503 else "UNKNOWN_EXCEPTION"
                response = json_response(
                    error_body(code, f"injected fault: HTTP {decision.status}"), decision.status
                )
                await response(scope, receive, send)
                return
            if decision.drop_after:
                await self._handle_then_drop(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _handle_then_drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Apply the request, then lose the response: the client cannot tell whether its write
        happened, which is what idempotent retries (upsert by external id) must survive."""
        sent: list[Message] = []

        async def hold(message: Message) -> None:
            sent.append(message)

        await self.app(scope, receive, hold)
        if self._drop_connection(send):
            self.stats.faults["dropafter"] += 1
            return
        for message in sent:
            await send(message)

    @staticmethod
    def _drop_connection(send: Send) -> bool:
        """Close the client's socket without a response.

        ASGI has no such message, so this reaches uvicorn's protocol object behind ``send``;
        marking the cycle disconnected stops uvicorn from answering 500 afterwards.
        """
        cycle = getattr(send, "__self__", None)
        transport = getattr(cycle, "transport", None)
        if transport is None:
            return False
        cycle.disconnected = True  # type: ignore[union-attr]
        transport.abort()
        return True

    # ------------------------------------------------------------------ faults and usage

    def apply_faults(self, spec: str) -> dict[str, Any]:
        plan = self.faults.configure(spec)
        if plan.limit_after is not None:
            with self._usage_lock:
                self.api_used = max(self.api_used, self.config.daily_api_limit - plan.limit_after)
        revoked = self.tokens.revoke_all() if plan.expire_now else 0
        log.info("emulator.faults_set", spec=spec, revoked_tokens=revoked)
        return {"spec": spec, "revokedTokens": revoked}

    def set_api_used(self, used: int) -> int:
        with self._usage_lock:
            self.api_used = used
        return self.api_used

    def limit_header(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={self.api_used}/{self.config.daily_api_limit}"}

    def lock_fault(self, request: Request) -> None:
        """The ``lock`` fault drawn for this request: a single-record write answers 400."""
        decision: Decision | None = request.scope.get("emulator.fault")
        if decision is not None and decision.lock:
            self.stats.faults["lock"] += 1
            raise ApiError(
                400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access to this record or 1 records"
            )

    # ------------------------------------------------------------------ REST call wrapper

    def api(self, name: str, *, count: bool = True) -> Callable[[Handler], Handler]:
        """Wrap a REST handler: session check, API accounting, limit header, error mapping."""

        def wrap(handler: Handler) -> Handler:
            @functools.wraps(handler)
            async def wrapped(request: Request) -> Response:
                self.stats.handlers[name] += 1
                try:
                    self.check_version(request)
                    self._authenticate(request)
                    # Salesforce counts a composite request once, not each of its subrequests.
                    if count and not request.scope.get(SUBREQUEST_SCOPE_KEY):
                        with self._usage_lock:
                            if self.api_used >= self.config.daily_api_limit:
                                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
                            self.api_used += 1
                    response = await handler(request)
                except ApiError as exc:
                    response = json_response(error_body(exc.error_code, exc.message, exc.fields), exc.status)
                except SoqlError as exc:
                    response = json_response(error_body(exc.error_code, exc.message), 400)
                except RecordError as exc:
                    response = self._record_error_response(exc)
                response.headers.update(self.limit_header())
                return response

            return wrapped

        return wrap

    @staticmethod
    def _record_error_response(exc: RecordError) -> Response:
        if exc.status == 300:
            return json_response([exc.message], 300)
        fields = exc.fields if exc.fields or exc.error_code != "NOT_FOUND" else None
        return json_response(error_body(exc.error_code, exc.message, fields), exc.status)

    @staticmethod
    def check_version(request: Request) -> None:
        version = request.path_params.get("version")
        if version is None:
            return
        match = re.fullmatch(r"(\d+)\.0", version)
        if match is None or not MIN_VERSION <= int(match[1]) <= MAX_VERSION:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() not in ("bearer", "oauth") or not self.session_valid(request, token):
            raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def session_valid(self, request: Request, token: str) -> bool:
        """Whether ``token`` is a live session; the ``expire`` fault revokes it first."""
        decision: Decision | None = request.scope.get("emulator.fault")
        if decision is not None and decision.expire and token:
            self.stats.faults["expire"] += 1
            self.tokens.revoke(token)
        return bool(token) and self.tokens.valid(token)
