"""A real headless Chromium: a page on another origin uses the API through the TypeScript client
(CORS preflights, ETag revalidation, idempotent replay, problem bodies), and /docs and /redoc
render with no network but loopback.

Skipped, saying why, only where Chromium or its driver is missing outside CI; in CI (CI=true) a
missing browser fails the run, since .ci/run installs Debian's `chromium` and `chromium-driver`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import uvicorn
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine, create_engine
from sqlmodel import Session

from salescoach_api.app import create_app
from salescoach_core.api_keys import create_api_key
from salescoach_core.database.migrations import upgrade
from salescoach_core.roles import Role
from salescoach_core.settings import Settings
from tests.plugins.database import create_database, drop_database
from tests.plugins.factories import Factory

PAGE = Path(__file__).with_name("page.html")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def chromium() -> tuple[str, str]:
    browser = shutil.which("chromium")
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        missing = "chromium" if browser is None else "chromedriver"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} is missing in CI: .ci/run installs Debian's chromium and chromium-driver")
        pytest.skip(
            f"{missing} not found: `apt-get install chromium chromium-driver` to run the browser tests"
        )
    return browser, driver


@pytest.fixture(scope="module")
def browser(chromium: tuple[str, str]) -> Iterator[webdriver.Chrome]:
    """Headless Chromium that reaches loopback only: names other than 127.0.0.1 do not resolve,
    and anything else goes to a proxy on a closed port."""
    binary, driver_path = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
        f"--proxy-server=http://127.0.0.1:{_free_port()}",
        "--proxy-bypass-list=127.0.0.1",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@dataclass(frozen=True)
class Seeded:
    manager_id: str
    rep_id: str
    admin_key: str


@pytest.fixture(scope="module")
def browser_db(server_engine: Engine) -> Iterator[tuple[Engine, Seeded]]:
    """A database of its own, with rows committed: the API server reads them from its own sessions."""
    url = create_database(server_engine, "salescoach_browser")
    engine = create_engine(url)
    upgrade(engine)
    with Session(engine) as session:
        factory = Factory(session)
        vp = factory.user("Vera VP")
        manager = factory.user("Ann Manager", manager=vp)
        rep = factory.user("Amy Rep", manager=manager)
        key = create_api_key(session, name="browser admin", role=Role.ADMIN, sf_user_id=None).plaintext
        seeded = Seeded(manager_id=manager.id, rep_id=rep.id, admin_key=key)
        session.commit()
    yield engine, seeded
    engine.dispose()
    drop_database(server_engine, url)


@pytest.fixture(scope="module")
def page_origin(typescript_client: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The test page and the client bundle, served from their own port: another origin."""
    root = tmp_path_factory.mktemp("page")
    shutil.copy(PAGE, root / "index.html")
    shutil.copy(typescript_client, root / "salescoach.js")

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def api_origin(
    browser_db: tuple[Engine, Seeded], page_origin: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The application under uvicorn on 127.0.0.1, allowing the page's origin only."""
    engine, _ = browser_db
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),  # type: ignore[arg-type]
        state_dir=tmp_path_factory.mktemp("browser-state"),
        cors_origins=[page_origin],
    )
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    WebDriverWait(server, 30, poll_frequency=0.05).until(lambda s: s.started)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def test_a_page_on_another_origin_uses_the_api_through_the_typed_client(
    browser: webdriver.Chrome, api_origin: str, page_origin: str, browser_db: tuple[Engine, Seeded]
) -> None:
    _, seeded = browser_db
    month = f"{datetime.now(UTC):%Y-%m}"
    goal = {"kind": "skill", "skill": "discovery", "period": month, "measurement_plan": "ride-alongs",
            "coach_id": seeded.manager_id}  # fmt: skip
    query = urlencode(
        {
            "api": api_origin,
            "key": seeded.admin_key,
            "rep": seeded.rep_id,
            "period": month,
            "goal": json.dumps(goal),
        }
    )
    browser.get(f"{page_origin}/index.html?{query}")
    results = WebDriverWait(browser, 60).until(
        lambda d: (text := d.find_element(By.ID, "results").text) != "pending" and text
    )
    seen = json.loads(results)

    assert "error" not in seen, seen
    # Listed reps are the active users who report to someone: the manager and the rep, not the VP.
    assert seen["reps"] == {"status": 200, "ids": sorted([seeded.manager_id, seeded.rep_id])}
    assert seen["scorecard"]["status"] == 200
    assert seen["scorecard"]["etag"], "ETag is not exposed to scripts"
    assert seen["scorecard"]["revalidated"] == 304
    first_id, retry_id = seen["idempotency"]["ids"]
    assert seen["idempotency"]["statuses"] == [201, 201]
    assert first_id is not None
    assert retry_id == first_id
    assert seen["idempotency"]["replayed"] == [None, "true"]
    assert seen["problem"]["status"] == 401
    assert seen["problem"]["contentType"] == "application/problem+json"
    assert seen["problem"]["code"] == "unauthorized"
    assert seen["problem"]["wwwAuthenticate"].startswith("Bearer")
    assert seen["problem"]["requestId"]


def _ink(screenshot: Path) -> tuple[int, float]:
    """Distinct colours, and the share of pixels that are not white: a blank page has 1 and 0;
    the rendered pages measured about 1,950 colours and 34% (/docs) or 38% (/redoc)."""
    image = Image.open(screenshot).convert("RGB")
    colours = image.getcolors(maxcolors=image.width * image.height) or []
    inked = sum(count for count, (r, g, b) in colours if min(r, g, b) < 248)
    return len(colours), inked / (image.width * image.height)


def test_the_browser_reaches_nothing_but_loopback(browser: webdriver.Chrome) -> None:
    with pytest.raises(WebDriverException, match=r"net::ERR_(PROXY_CONNECTION_FAILED|NAME_NOT_RESOLVED)"):
        browser.get("https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css")


def test_docs_render_offline(browser: webdriver.Chrome, api_origin: str, tmp_path: Path) -> None:
    spec = create_app(Settings()).openapi()
    operations = sum(len(item) for item in spec["paths"].values())
    browser.get(f"{api_origin}/docs")
    WebDriverWait(browser, 60).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, ".opblock")) > 0)
    assert len(browser.find_elements(By.CSS_SELECTOR, ".opblock")) == operations
    assert "salescoach API" in browser.title
    screenshot = tmp_path / "docs.png"
    browser.save_screenshot(str(screenshot))
    colours, inked = _ink(screenshot)
    assert colours >= 50, f"/docs looks blank: {colours} colours"
    assert inked >= 0.10, f"/docs looks blank: {inked:.1%} of pixels inked"


def test_redoc_renders_offline(browser: webdriver.Chrome, api_origin: str, tmp_path: Path) -> None:
    browser.get(f"{api_origin}/redoc")
    WebDriverWait(browser, 60).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, '[data-item-id$="operation/listReps"]')
    )
    screenshot = tmp_path / "redoc.png"
    browser.save_screenshot(str(screenshot))
    colours, inked = _ink(screenshot)
    assert colours >= 50, f"/redoc looks blank: {colours} colours"
    assert inked >= 0.10, f"/redoc looks blank: {inked:.1%} of pixels inked"
