"""The one HTTP client the sync talks to Salesforce with: a requests session, as simple-salesforce
needs one anyway, for the OAuth login and every API call alike.

A second client for the login (httpx, with httpcore and any async library it finds installed)
cost `salescoach sync run` more start-up before its first call than everything else together.
"""

from __future__ import annotations

import http.client
from typing import Any

import requests
import urllib3.exceptions
from requests.adapters import HTTPAdapter

from salescoach_core.settings import Settings

CONNECT_TIMEOUT_SECONDS = 10.0

# What a dropped, refused or timed-out connection raises, from requests down to the socket.
NETWORK_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.ReadTimeoutError,
    http.client.IncompleteRead,
    ConnectionError,
)


class _SalesforceAdapter(HTTPAdapter):
    """Gives every request a timeout (simple-salesforce does not pass one on all its calls) and
    the configured CA bundle (requests would let REQUESTS_CA_BUNDLE in the environment win)."""

    def __init__(self, timeout: tuple[float, float], ca_bundle: str | None) -> None:
        super().__init__(pool_connections=2, pool_maxsize=4, max_retries=0)
        self._timeout = timeout
        self._ca_bundle = ca_bundle

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        if self._ca_bundle:
            kwargs["verify"] = self._ca_bundle
        return super().send(request, **kwargs)


def salesforce_session(settings: Settings) -> requests.Session:
    """A session for one thread's calls: timeouts from the settings, SALESCOACH_SF_CA_BUNDLE."""
    session = requests.Session()
    adapter = _SalesforceAdapter(
        (CONNECT_TIMEOUT_SECONDS, settings.sf_timeout_seconds),
        str(settings.sf_ca_bundle) if settings.sf_ca_bundle else None,
    )
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
