"""Integrations fixtures: an engine on the module's committed database (the delivery worker and
the feed read what other transactions committed), and a local webhook receiver."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine

# The delivery worker compares with the real clock (retry windows), so events happen now.
NOW = datetime.now(UTC)


@pytest.fixture
def committed_engine(committed_url: str) -> Iterator[Engine]:
    engine = create_engine(committed_url)
    yield engine
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE event, webhook_endpoint, webhook_delivery CASCADE")
    engine.dispose()


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1 that answers the queued status codes, then 200."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
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


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = state.next_status({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()
