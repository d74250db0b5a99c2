"""Third-party Salesforce clients installed from PyPI into their own virtual env, and run
against the emulator unchanged.

The env is cached per package, version and Python under the pytest cache, so reruns reuse
it; an unreachable package registry skips the test with the reason rather than failing it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from salescoach_emulator import EmulatorHandle

REPO = Path(__file__).resolve().parents[2]
# Signs of a registry that cannot be reached (uv's and pip's wording), as opposed to a
# package that does not install on this Python, which must fail the test.
_NETWORK_ERRORS = (
    "failed to fetch",
    "error sending request",
    "dns error",
    "could not connect",
    "connection refused",
    "network is unreachable",
    "timed out",
    "temporary failure in name resolution",
    "failed to establish a new connection",
)

# Run a console script with Salesforce's login hosts routed to the emulator. Clients such as
# tap-salesforce hard-code https://login.salesforce.com; nothing else in them is touched.
LAUNCHER = """
import os, sys
from importlib.metadata import entry_points

import requests

_LOGIN = os.environ["COMPAT_LOGIN_URL"]
_request = requests.Session.request


def _routed(self, method, url, *args, **kwargs):
    for host in ("https://login.salesforce.com", "https://test.salesforce.com"):
        if isinstance(url, str) and url.startswith(host):
            url = _LOGIN + url[len(host):]
    return _request(self, method, url, *args, **kwargs)


requests.Session.request = _routed
(script,) = [e for e in entry_points(group="console_scripts") if e.name == sys.argv[1]]
sys.argv = sys.argv[1:]
sys.exit(script.load()())
"""


def _uv() -> str | None:
    bundled = REPO / ".tools" / "bin" / "uv"
    return str(bundled) if bundled.exists() else shutil.which("uv")


def client_venv(
    config: pytest.Config, tmp_factory: pytest.TempPathFactory, package: str, version: str
) -> Path:
    """A virtual env holding ``package==version`` (and the launcher); created once, then reused."""
    key = f"compat-venv/{package}-{version}-py{sys.version_info.major}{sys.version_info.minor}"
    cache = getattr(config, "cache", None)
    venv = (
        cache.mkdir(key.replace("/", "-")) if cache is not None else tmp_factory.mktemp(key.replace("/", "-"))
    )
    marker = venv / ".installed"
    if marker.exists():
        return venv
    uv = _uv()
    if uv is None:
        pytest.skip("uv is needed to install third-party clients (run make install)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, env=env)
    install = [
        uv,
        "pip",
        "install",
        "--quiet",
        "--python",
        str(venv / "bin" / "python"),
        f"{package}=={version}",
    ]
    # Offline first: with uv's cache warm this needs no registry at all.
    done = subprocess.run([*install, "--offline"], capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        done = subprocess.run(install, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        message = done.stderr.strip()
        if any(sign in message.lower() for sign in _NETWORK_ERRORS):
            pytest.skip(
                f"package registry unreachable, cannot install {package}=={version}: {message[-300:]}"
            )
        raise AssertionError(f"{package}=={version} does not install on Python {sys.version}: {message}")
    (venv / "compat_launcher.py").write_text(LAUNCHER, encoding="utf-8")
    marker.write_text(json.dumps({"package": package, "version": version}), encoding="utf-8")
    return venv


def run_client(
    venv: Path, emulator: EmulatorHandle, script: str, *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run a client's console script against the emulator; TLS trusts exactly its CA."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", str(venv)),
        "COMPAT_LOGIN_URL": emulator.login_url,
        "REQUESTS_CA_BUNDLE": str(emulator.ca_bundle),
    }
    return subprocess.run(
        [str(venv / "bin" / "python"), str(venv / "compat_launcher.py"), script, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
