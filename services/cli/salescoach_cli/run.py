"""`salescoach run`: the one-command local stack behind `make run`.

Database and migrations; with no Salesforce settings, the emulator serving a generated demo
org (made once under the state directory) and demo quotas; a first sync; the sync worker as
a second process; an admin key for the demo; the API in this process. Ctrl-C (or SIGTERM)
stops the worker, the emulator and the embedded PostgreSQL with it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import uvicorn
from pydantic import SecretStr

from salescoach_api.app import create_app
from salescoach_cli.demo import seed_demo_targets
from salescoach_cli.output import console, fail
from salescoach_core.api_keys import ensure_demo_admin_key
from salescoach_core.database import Database, session_scope
from salescoach_core.database.migrations import revision_state, upgrade
from salescoach_core.settings import Settings
from salescoach_emulator import EmulatorHandle, generate_org, spawn_emulator
from salescoach_sync.progress import default_progress
from salescoach_sync.service import run_once

DEMO_ORG_DIR = "demo-org"
EMULATOR_STATE_DIR = "emulator"
DEMO_SEED = 7


def run_all(settings: Settings) -> None:
    database = Database(settings)
    engine = database.engine()
    upgrade(engine)
    console().print(f"database ready at revision {revision_state(engine).current}")

    # No connection configured: start the demo emulator. A configured one, even an emulator the
    # user started on loopback, is used as it is.
    demo = not settings.sf_client_id
    with ExitStack() as stack:
        if demo:
            settings = stack.enter_context(_demo_emulator(settings))
        else:
            console().print(f"salesforce: {settings.sf_login_url}")

        report = run_once(settings, engine, progress=default_progress())
        if not report.ok:
            first = report.first_error
            fail(f"first sync failed: {first.error if first else 'see the log above'}")
        console().print(f"first sync done ({len(report.changed_objects)} object(s) changed)")

        with session_scope(engine) as session:
            if demo:
                quotas, requirement = seed_demo_targets(session, today=datetime.now(UTC).date())
                if quotas or requirement:
                    console().print(f"demo targets: {quotas} monthly quotas, default activity requirement")
            admin_key = ensure_demo_admin_key(session, settings.state_dir)

        stack.enter_context(_sync_worker(settings))
        console().print(f"API on http://{settings.api_host}:{settings.api_port} (docs at /docs)")
        console().print(f"admin key (also in {settings.state_dir / 'demo-admin-key'}):")
        base = f"http://{settings.api_host}:{settings.api_port}"
        console().print(f"  curl -H 'Authorization: Bearer {admin_key}' {base}/v1/reps", soft_wrap=True)
        uvicorn.run(
            # The API's own handle: its connections carry the request time bounds, which the
            # migrations and the first sync above must not.
            create_app(settings),
            host=settings.api_host,
            port=settings.api_port,
            log_config=None,
            access_log=False,
        )


@contextmanager
def _demo_emulator(settings: Settings) -> Iterator[Settings]:
    """Serve the demo org with the emulator; yield the settings that point the sync at it."""
    org_dir = settings.state_dir / DEMO_ORG_DIR
    if not (org_dir / "Task.csv").exists():
        console().print(f"generating the demo org in {org_dir} ...")
        result = generate_org(org_dir, seed=DEMO_SEED)
        console().print(f"demo org: {sum(result.counts.values()):,} records in {result.seconds:.1f} s")
    with spawn_emulator(org_dir, state_dir=settings.state_dir / EMULATOR_STATE_DIR) as (handle, _):
        console().print(f"salesforce: local emulator at {handle.instance_url}")
        yield _pointed_at(settings, handle)


def _pointed_at(settings: Settings, handle: EmulatorHandle) -> Settings:
    return settings.model_copy(
        update={
            "sf_login_url": handle.login_url,
            "sf_client_id": handle.client_id,
            "sf_client_secret": SecretStr(handle.client_secret),
            "sf_ca_bundle": Path(handle.ca_bundle),
        }
    )


@contextmanager
def _sync_worker(settings: Settings) -> Iterator[subprocess.Popen[bytes]]:
    """`salescoach sync worker` as its own process, with the same Salesforce connection."""
    env = {
        **os.environ,
        "SALESCOACH_STATE_DIR": str(settings.state_dir),
        "SALESCOACH_SF_LOGIN_URL": settings.sf_login_url,
        "SALESCOACH_SF_CLIENT_ID": settings.sf_client_id or "",
        "SALESCOACH_SF_CLIENT_SECRET": settings.sf_client_secret.get_secret_value()
        if settings.sf_client_secret
        else "",
        "SALESCOACH_SF_CA_BUNDLE": str(settings.sf_ca_bundle or ""),
    }
    if settings.database_url is not None:
        env["DATABASE_URL"] = settings.database_url.get_secret_value()
    worker = subprocess.Popen([sys.executable, "-m", "salescoach_cli", "sync", "worker"], env=env)
    try:
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
