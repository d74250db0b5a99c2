"""Running the emulator: in a background thread (tests, embedding) or as a subprocess (the
``serve`` command, ``make run``, benchmarks). Both hand back an ``EmulatorHandle``.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import structlog
import uvicorn

from salescoach_emulator.auth import Credentials, JwtKeys
from salescoach_emulator.server import Emulator, EmulatorConfig
from salescoach_emulator.store.org import OrgStore, now_utc
from salescoach_emulator.tls import ensure_tls

log = structlog.get_logger(__name__)

DEFAULT_TOKEN_TTL = 7200.0
DEFAULT_DAILY_API_LIMIT = 100_000
DEFAULT_API_VERSION = "62.0"


@dataclass(frozen=True)
class EmulatorHandle:
    """Where a running emulator listens and how to log in to it; admin helpers for tests."""

    instance_url: str
    login_url: str
    ca_bundle: str
    client_id: str
    client_secret: str
    username: str
    password: str
    state_dir: str
    jwt_private_key: str

    def connection_info(self) -> dict[str, str]:
        """The JSON line ``serve`` prints."""
        return {
            "instance_url": self.instance_url,
            "login_url": self.login_url,
            "ca_bundle": self.ca_bundle,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
        }

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting exactly the emulator's CA."""
        return ssl.create_default_context(cafile=self.ca_bundle)

    def _admin(self, method: str, path: str, body: object | None = None) -> Any:
        response = httpx.request(
            method,
            f"{self.instance_url}/__emulator/{path}",
            json=body,
            verify=self.ssl_context(),
            timeout=60,
        )
        response.raise_for_status()
        return response.json()

    def set_faults(self, spec: str) -> dict[str, Any]:
        """Replace the fault rules (``""`` clears them); see faults.py for the syntax."""
        result: dict[str, Any] = self._admin("POST", "faults", {"spec": spec})
        return result

    def purge_recycle_bin(self, objects: list[str] | None = None) -> int:
        return int(self._admin("POST", "purge", {"objects": objects})["purged"])

    def seed_records(self, sobject: str, records: list[dict[str, Any]]) -> list[str]:
        """Insert or replace raw rows, system fields included (e.g. an old SystemModstamp)."""
        return list(self._admin("POST", f"records/{sobject}", {"records": records})["ids"])

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._admin("GET", "stats")
        return result

    def set_api_usage(self, used: int) -> None:
        self._admin("POST", "api-usage", {"used": used})

    def expire_tokens(self) -> int:
        return int(self._admin("POST", "expire-tokens")["revokedTokens"])

    def access_token(self) -> str:
        """A fresh token via the client-credentials grant."""
        response = httpx.post(
            f"{self.login_url}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            verify=self.ssl_context(),
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


@contextmanager
def start_emulator(
    org_dir: Path | str,
    *,
    state_dir: Path | str,
    host: str = "127.0.0.1",
    port: int = 0,
    faults: str | None = None,
    token_ttl: float | None = DEFAULT_TOKEN_TTL,
    daily_api_limit: int = DEFAULT_DAILY_API_LIMIT,
    persist: bool = False,
    clock: Any = None,
) -> Iterator[EmulatorHandle]:
    """Serve ``org_dir`` over HTTPS from a background thread until the block exits.

    ``port=0`` picks a free port. ``clock`` (a callable returning an aware datetime) pins
    "now" for date literals and system timestamps. With ``persist`` the org folder is
    rewritten from the working copy on exit.
    """
    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    store = OrgStore(Path(org_dir), state, clock=clock or now_utc)
    creds = Credentials.load_or_create(state)
    jwt_keys = JwtKeys.load_or_create(state)
    tls = ensure_tls(state, [host])
    sock = _bind(host, port)
    bound_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    base_url = f"https://{url_host}:{bound_port}"
    emulator = Emulator(
        store,
        EmulatorConfig(
            creds, jwt_keys, token_ttl=token_ttl, daily_api_limit=daily_api_limit, base_url=base_url
        ),
        faults=faults,
    )
    config = uvicorn.Config(
        emulator.asgi,
        ssl_certfile=str(tls.cert_chain),
        ssl_keyfile=str(tls.private_key),
        log_config=None,
        access_log=False,
        lifespan="off",
        interface="asgi3",
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=30,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="salescoach-emulator", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
    handle = EmulatorHandle(
        instance_url=base_url,
        login_url=base_url,
        ca_bundle=str(tls.ca_bundle),
        client_id=creds.client_id,
        client_secret=creds.client_secret,
        username=creds.username,
        password=creds.password,
        state_dir=str(state),
        jwt_private_key=str(jwt_keys.private_key_path),
    )
    log.info("emulator.started", instance_url=base_url, org_dir=str(org_dir))
    try:
        yield handle
    finally:
        server.should_exit = True
        # Idle keep-alive TLS connections would hold a graceful shutdown for asyncio's 30 s
        # close_notify timeout; clients of a stopping emulator do not need that courtesy.
        server.force_exit = True
        thread.join(timeout=30)
        sock.close()
        if persist:
            store.persist()
        store.close()
        log.info("emulator.stopped", instance_url=base_url)


@contextmanager
def spawn_emulator(
    org_dir: Path | str,
    *,
    state_dir: Path | str,
    extra_args: list[str] | None = None,
    startup_timeout: float = 300.0,
) -> Iterator[tuple[EmulatorHandle, subprocess.Popen[bytes]]]:
    """Run ``salescoach emulator serve`` in a subprocess (its own GIL and memory).

    Yields the handle and the process (for RSS measurements); SIGTERM on exit.
    """
    cmd = [
        sys.executable, "-m", "salescoach_cli", "emulator", "serve",
        "--org", str(org_dir), "--state-dir", str(state_dir), "--port", "0",
        *(extra_args or []),
    ]  # fmt: skip
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, env={**os.environ})  # noqa: S603
    try:
        assert process.stdout is not None
        started = time.monotonic()
        line = b""
        while not line:
            if process.poll() is not None:
                raise RuntimeError(f"the emulator exited with {process.returncode}")
            if time.monotonic() - started > startup_timeout:
                raise RuntimeError("the emulator did not start in time")
            line = process.stdout.readline()
        info = json.loads(line)
        state = Path(state_dir)
        handle = EmulatorHandle(
            **info,
            state_dir=str(state),
            jwt_private_key=str(state / "jwt" / "private.pem"),
        )
        yield handle, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
