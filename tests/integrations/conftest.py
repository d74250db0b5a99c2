"""Integrations fixtures: an engine on the module's committed database (the delivery worker and
the feed read what other transactions committed), and a local webhook receiver."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import trustme
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from salescoach_core.coaching import sessions as coaching_sessions
from salescoach_core.models import CoachingSession, SfUser
from salescoach_core.settings import Settings

# The delivery worker compares with the real clock (retry windows), so events happen now.
NOW = datetime.now(UTC)


def scheduled_session(db_session: Session, rep: SfUser, at: datetime | None = None) -> CoachingSession:
    """A developmental session of `rep` with their manager as coach, scheduled at `at` (NOW)."""
    return coaching_sessions.create_session(
        db_session,
        rep=rep,
        mode="developmental",
        coach_id=rep.manager_id,
        fields={"scheduled_at": at or NOW},
        now=NOW,
    )


@pytest.fixture
def committed_engine(committed_url: str) -> Iterator[Engine]:
    engine = create_engine(committed_url)
    yield engine
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE event, webhook_endpoint, webhook_delivery CASCADE")
    engine.dispose()


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that answers the queued status codes, then 200, each
    with `body`; it records the TLS server name (SNI) clients ask for."""

    url: str = ""
    port: int = 0
    statuses: list[int] = field(default_factory=list)
    body: bytes = b""
    server_names: list[str | None] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_status(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            self.requests.append((headers, body))
            status = self.statuses.pop(0) if self.statuses else 200
            self.answered.append(status)
            return status

    def accepted_ids(self) -> list[str]:
        """Event ids a deduplicating receiver processed: the ones answered 2xx."""
        return [
            json.loads(body)["id"]
            for (_, body), status in zip(self.requests, self.answered, strict=True)
            if 200 <= status < 300
        ]


def _serve(state: Receiver, tls: ssl.SSLContext | None) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.next_status({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    state.port = server.server_address[1]
    state.url = f"{'https' if tls else 'http'}://127.0.0.1:{state.port}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve(Receiver(), None)


@pytest.fixture(scope="module")
def receiver_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_receiver(receiver_ca: trustme.CA) -> Iterator[Receiver]:
    """The receiver over HTTPS, with a certificate for `localhost` only (not for 127.0.0.1)."""
    state = Receiver()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    receiver_ca.issue_cert("localhost").configure_cert(context)

    def record_server_name(sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        state.server_names.append(name)

    context.sni_callback = record_server_name
    yield from _serve(state, context)


@pytest.fixture
def on_premise(settings: Settings) -> Settings:
    """Settings of a deployment whose receivers are on its own network, as the test receivers
    (127.0.0.1) are: private targets allowed explicitly."""
    return settings.model_copy(update={"webhook_allow_private_targets": True})
