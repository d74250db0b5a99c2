"""The one module that talks to Salesforce: a simple-salesforce session behind retries,
re-authentication, error mapping, API call accounting and the quota guard.

The rest of the sync never builds a Salesforce URL. Every call goes through `SalesforceClient.call`:
- 5xx, timeouts, dropped connections and UNABLE_TO_LOCK_ROW are retried with exponential
  backoff and jitter (tenacity);
- INVALID_SESSION_ID logs in again once per call (tokens expire or get revoked mid-sync);
- bad credentials and missing permissions fail at once with a message that says what to fix;
- before each call the quota guard may stop the sync (QuotaStop), and REQUEST_LIMIT_EXCEEDED
  is reported as that same stop, never as success.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
import structlog
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import SalesforceError
from simple_salesforce.util import exception_handler
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from salescoach_core.settings import Settings
from salescoach_sync.auth import AccessToken, obtain_token
from salescoach_sync.errors import (
    QuotaStop,
    SalesforceAccessError,
    SalesforceAuthError,
    SalesforceRequestError,
    SalesforceUnavailableError,
    SessionExpiredError,
    SyncError,
    TransientError,
)
from salescoach_sync.quota import QuotaGuard
from salescoach_sync.transport import NETWORK_ERRORS, salesforce_session

log = structlog.get_logger(__name__)

T = TypeVar("T")

MAX_ATTEMPTS = 8
MAX_LOGINS_PER_CALL = 3
RETRYABLE_ERROR_CODES = frozenset({"UNABLE_TO_LOCK_ROW", "SERVER_UNAVAILABLE"})
ACCESS_ERROR_CODES = frozenset(
    {"INVALID_TYPE", "INVALID_FIELD", "INSUFFICIENT_ACCESS", "API_DISABLED_FOR_ORG"}
)


@dataclass
class ResultPage:
    """One page of a Bulk API 2.0 query result, streamed: CSV with its header row."""

    response: requests.Response
    number_of_records: int | None
    next_locator: str | None

    def iter_bytes(self, chunk_size: int = 1 << 20) -> Iterator[bytes]:
        yield from self.response.iter_content(chunk_size)


class _LoggedInAgain(TransientError):
    """The call failed on an expired session and a new one is ready: retry at once."""


@dataclass
class _CallState:
    logins: int = 0


def _error_detail(exc: SalesforceError) -> tuple[str, str]:
    """errorCode and message of a Salesforce error body (a JSON list), tolerating other shapes."""
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", "")), str(content[0].get("message", ""))
    if isinstance(content, dict):
        return str(content.get("errorCode", content.get("error", ""))), str(content.get("message", ""))
    return "", str(content)[:300]


def _as_dict(value: Any) -> dict[str, Any]:
    """simple-salesforce returns parsed JSON typed as Any (None for 204 No Content)."""
    return value if isinstance(value, dict) else {}


def _get_text(sf: Salesforce, url: str, params: dict[str, str] | None) -> str:
    """GET a REST resource and return its body undecoded (errors raised as simple-salesforce
    raises them, for the call wrapper to map)."""
    response = sf.session.request("GET", url, params=params, headers=sf.headers)
    if response.status_code >= 300:
        exception_handler(response, name="query")
    return response.content.decode("utf-8")  # JSON is UTF-8 (RFC 8259); never guess


def salesforce_datetime(value: datetime) -> str:
    """A UTC instant as a SOQL / REST datetime literal, to the second."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Shared:
    """What the clients of one org share across threads: the access token (one login serves
    them all, and an expired token is replaced once) and the quota guard."""

    def __init__(self, settings: Settings, token: AccessToken | None = None) -> None:
        self.quota = QuotaGuard(settings.sync_quota_share)
        self.lock = threading.Lock()
        self.token = token
        # A refused login is not repeated by every thread of the pass: they all get this error.
        self.login_error: SalesforceAuthError | None = None


class SalesforceClient:
    """A logged-in connection to one org. Not thread-safe: a thread that needs one calls
    `fork()`, which shares the token and the quota guard but not the HTTP session."""

    def __init__(
        self, settings: Settings, *, shared: _Shared | None = None, token: AccessToken | None = None
    ) -> None:
        """`token`: one obtained already (`start_login`); the client logs in when it has none."""
        self._settings = settings
        self._shared = shared or _Shared(settings, token)
        self.quota = self._shared.quota
        self.api_calls = 0
        self._session = salesforce_session(settings)
        self._session.hooks["response"].append(self._on_response)
        self._token: AccessToken | None = None
        self._sf: Salesforce | None = None
        self._checking_limits = False

    # ------------------------------------------------------------------ session

    def _retrying(self, name: str, attempts: int = MAX_ATTEMPTS) -> Retrying:
        backoff = wait_exponential_jitter(multiplier=0.25, max=20.0, jitter=0.5)

        def wait(state: RetryCallState) -> float:
            # Right after logging in again there is nothing to wait for.
            error = state.outcome.exception() if state.outcome is not None else None
            return 0.0 if isinstance(error, _LoggedInAgain) else backoff(state)

        return Retrying(
            stop=stop_after_attempt(attempts),
            wait=wait,
            retry=retry_if_exception_type(TransientError),
            reraise=True,
            before_sleep=self._log_retry(name),
        )

    @staticmethod
    def _log_retry(name: str) -> Callable[[RetryCallState], None]:
        def before_sleep(state: RetryCallState) -> None:
            outcome = state.outcome
            error = outcome.exception() if outcome is not None else None
            log.warning(
                "salesforce_call_retry",
                call=name,
                attempt=state.attempt_number,
                wait_seconds=round(state.next_action.sleep, 2) if state.next_action else None,
                error=str(error),
            )

        return before_sleep

    def connect(self) -> None:
        """Log in (retrying outages; bad credentials fail at once)."""
        try:
            self._retrying("oauth_token")(self._login)
        except TransientError as exc:
            raise SalesforceUnavailableError(
                f"cannot reach the Salesforce login endpoint {self._settings.sf_login_url}: {exc}. "
                "Check SALESCOACH_SF_LOGIN_URL and the network."
            ) from exc

    def fork(self) -> SalesforceClient:
        """A client for another thread: its own HTTP session and call count, the same token
        and quota guard."""
        return SalesforceClient(self._settings, shared=self._shared)

    def forget_login_failure(self) -> None:
        """Let the next login try again (a new pass: credentials may have been fixed)."""
        with self._shared.lock:
            self._shared.login_error = None

    def _login(self, *, expired: AccessToken | None = None) -> None:
        """Use the shared token, logging in when there is none yet or when `expired` (the
        token a call was refused with) is still the shared one."""
        with self._shared.lock:
            token = self._shared.token
            if token is None or token is expired:
                if self._shared.login_error is not None:
                    raise self._shared.login_error
                try:
                    token = obtain_token(self._settings, session=self._session)
                except SalesforceAuthError as exc:
                    self._shared.login_error = exc
                    raise
                self._shared.token = token
        self._token = token
        self._sf = Salesforce(
            instance_url=token.instance_url,
            session_id=token.access_token,
            version=self._settings.sf_api_version,
            session=self._session,
            parse_float=Decimal,
        )

    @property
    def org_id(self) -> str:
        if self._token is None:
            self.connect()
        assert self._token is not None
        return self._token.org_id

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if "/services/data/" in response.url:
            self.api_calls += 1
            self.quota.observe_header(response.headers.get("Sforce-Limit-Info"))

    # ------------------------------------------------------------------ the call wrapper

    def call(self, name: str, fn: Callable[[Salesforce], T], *, attempts: int = MAX_ATTEMPTS) -> T:
        """Run `fn` against the session with the guard, retries, re-login and error mapping.

        `fn` may be called more than once, so it must be safe to repeat (a consumer of a
        streamed page writes into a savepoint for that reason).
        """
        if self._sf is None:
            self.connect()
        state = _CallState()
        try:
            result: T = self._retrying(name, attempts)(self._attempt, name, fn, state)
            return result
        except TransientError as exc:
            raise SalesforceUnavailableError(
                f"Salesforce kept failing on {name} after {attempts} attempts: {exc}. Check "
                "https://status.salesforce.com and the network; the next run resumes from the checkpoint."
            ) from exc

    def _attempt(self, name: str, fn: Callable[[Salesforce], T], state: _CallState) -> T:
        self._guard()
        assert self._sf is not None
        try:
            return fn(self._sf)
        except Exception as exc:
            mapped = self._map_error(name, exc)
            if isinstance(mapped, SessionExpiredError):
                # Log in again once per expiry; a call whose retries outlive several tokens
                # may do so more than once, but tokens refused one after another mean the
                # session policy (or a revoked connected app) refuses us.
                if state.logins >= MAX_LOGINS_PER_CALL:
                    raise SalesforceAuthError(
                        f"Salesforce refused {MAX_LOGINS_PER_CALL} freshly issued tokens on {name} "
                        "(INVALID_SESSION_ID). Check the connected app's session policies, IP "
                        "restrictions and that it is still approved for the integration user."
                    ) from exc
                log.info("salesforce_session_expired", call=name)
                self._login(expired=self._token)
                state.logins += 1
                raise _LoggedInAgain("session expired; logged in again") from exc
            if mapped is exc:
                raise
            raise mapped from exc

    def _guard(self) -> None:
        if self.quota.needs_limits and not self._checking_limits and self._sf is not None:
            # The header was missing: ask /limits, outside the retry loop of the current call.
            self._checking_limits = True
            try:
                self.quota.observe_limits(self._sf.limits())
            except (SalesforceError, *NETWORK_ERRORS) as exc:
                log.warning("salesforce_limits_unavailable", error=str(exc))
            finally:
                self._checking_limits = False
        self.quota.check()

    @staticmethod
    def _map_error(name: str, exc: Exception) -> Exception:
        if isinstance(exc, TransientError | SessionExpiredError | SyncError):
            return exc
        if isinstance(exc, requests.exceptions.SSLError):
            return SalesforceUnavailableError(
                f"{name}: TLS verification of Salesforce's certificate failed ({exc}). Set "
                "SALESCOACH_SF_CA_BUNDLE to the CA that signed it (the emulator's ca.pem locally)."
            )
        if isinstance(exc, NETWORK_ERRORS):
            return TransientError(f"{name}: {type(exc).__name__}: {exc}")
        if not isinstance(exc, SalesforceError):
            return exc
        code, message = _error_detail(exc)
        status = exc.status
        if status == 401 or code == "INVALID_SESSION_ID":
            return SessionExpiredError(message)
        if code == "REQUEST_LIMIT_EXCEEDED":
            return QuotaStop(
                f"Salesforce refused {name}: REQUEST_LIMIT_EXCEEDED ({message}). The org's daily API "
                "limit is used up; stopped with checkpoints kept. Lower SALESCOACH_SYNC_QUOTA_SHARE "
                "so the guard stops earlier, and run again when usage falls."
            )
        if status >= 500 or code in RETRYABLE_ERROR_CODES:
            return TransientError(f"{name}: HTTP {status} {code}: {message}")
        if code in ACCESS_ERROR_CODES or status == 403:
            return SalesforceAccessError(
                f"Salesforce refused {name}: {code or status}: {message}. Give the integration user "
                "read access to the object and field (profile or permission set, field-level security)."
            )
        return SalesforceRequestError(
            f"Salesforce refused {name}: HTTP {status} {code}: {message}", error_code=code
        )

    # ------------------------------------------------------------------ REST

    def describe(self, object_name: str) -> dict[str, Any]:
        return self.call("describe", lambda sf: _as_dict(sf.restful(f"sobjects/{object_name}/describe")))

    def query(self, soql: str, *, include_deleted: bool) -> dict[str, Any]:
        """The first page of a REST query (`queryAll` when `include_deleted`)."""
        return self.call("query", lambda sf: _as_dict(sf.query(soql, include_deleted=include_deleted)))

    def query_page(self, soql: str, *, include_deleted: bool) -> str:
        """The first page of a REST query as the JSON text Salesforce sent, unparsed: the
        sync hands it to PostgreSQL as it is (see Loader.merge_rest_page)."""
        endpoint = "queryAll/" if include_deleted else "query/"
        return self.call("query", lambda sf: _get_text(sf, f"{sf.base_url}{endpoint}", {"q": soql}))

    def query_more_page(self, next_records_url: str) -> str:
        """A following page (`nextRecordsUrl`) of a REST query, as JSON text."""
        return self.call(
            "query_more", lambda sf: _get_text(sf, f"https://{sf.sf_instance}{next_records_url}", None)
        )

    def get_deleted(self, object_name: str, start: datetime, end: datetime) -> dict[str, Any]:
        """`sobjects/X/deleted`: ids deleted in [start, end] and `earliestDateAvailable`."""
        params = {"start": salesforce_datetime(start), "end": salesforce_datetime(end)}
        return self.call(
            "get_deleted",
            lambda sf: _as_dict(sf.restful(f"sobjects/{object_name}/deleted/", params=params)),
        )

    def composite(self, subrequests: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Several GET subrequests (`{"url": path relative to the API version, "referenceId"}`)
        in one `composite` request, which Salesforce counts as ONE API call (at most 25
        subrequests, 5 of them queries). One entry per subrequest, in order:
        `{"httpStatusCode", "body", "referenceId"}`; a failed subrequest fails alone."""

        def send(sf: Salesforce) -> Any:
            base = urlsplit(sf.base_url).path.rstrip("/")
            body = {
                "allOrNone": False,
                "compositeRequest": [
                    {"method": "GET", "url": f"{base}/{sub['url']}", "referenceId": sub["referenceId"]}
                    for sub in subrequests
                ],
            }
            return sf.restful("composite", method="POST", json=body)

        result = _as_dict(self.call("composite", send)).get("compositeResponse")
        if not isinstance(result, list) or len(result) != len(subrequests):
            raise SalesforceRequestError(
                f"composite answered {type(result).__name__} for {len(subrequests)} subrequests"
            )
        return [entry if isinstance(entry, dict) else {} for entry in result]

    def upsert_collection(
        self, object_name: str, external_id_field: str, records: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Upsert up to 200 records by an external-id field (`composite/sobjects`, allOrNone
        off): one result per record, in request order. Repeating the request is safe (the key is
        the external id), so a retry after a lost response updates instead of duplicating."""
        body = {
            "allOrNone": False,
            "records": [{"attributes": {"type": object_name}, **record} for record in records],
        }
        path = f"composite/sobjects/{object_name}/{external_id_field}"
        result = self.call("upsert_collection", lambda sf: sf.restful(path, method="PATCH", json=body))
        if not isinstance(result, list) or len(result) != len(records):
            raise SalesforceRequestError(
                f"composite/sobjects answered {type(result).__name__} for {len(records)} records"
            )
        return [entry if isinstance(entry, dict) else {} for entry in result]

    def limits(self) -> dict[str, Any]:
        result = self.call("limits", lambda sf: _as_dict(sf.limits()))
        self.quota.observe_limits(result)
        return result

    # ------------------------------------------------------------------ Bulk API 2.0 query

    def create_query_job(self, soql: str, *, include_deleted: bool) -> dict[str, Any]:
        body = {"operation": "queryAll" if include_deleted else "query", "query": soql}
        return self.call(
            "bulk_create_job", lambda sf: _as_dict(sf.restful("jobs/query", method="POST", json=body))
        )

    def query_job(self, job_id: str) -> dict[str, Any]:
        return self.call("bulk_job_status", lambda sf: _as_dict(sf.restful(f"jobs/query/{job_id}")))

    def delete_query_job(self, job_id: str) -> None:
        # Housekeeping: not worth a long retry sequence.
        self.call(
            "bulk_delete_job", lambda sf: sf.restful(f"jobs/query/{job_id}", method="DELETE"), attempts=2
        )

    def query_job_results(
        self,
        job_id: str,
        *,
        locator: str | None,
        max_records: int,
        consume: Callable[[ResultPage], T],
    ) -> T:
        """Stream one result page into `consume`; on a retry the page is fetched and consumed again."""

        def fetch(sf: Salesforce) -> T:
            params: dict[str, str | int] = {"maxRecords": max_records}
            if locator:
                params["locator"] = locator
            response = sf.session.request(
                "GET",
                f"{sf.base_url}jobs/query/{job_id}/results",
                params=params,
                headers={**sf.headers, "Accept": "text/csv"},
                stream=True,
            )
            try:
                if response.status_code >= 300:
                    exception_handler(response, name="bulk_results")
                records = response.headers.get("Sforce-NumberOfRecords")
                next_locator = response.headers.get("Sforce-Locator")
                page = ResultPage(
                    response,
                    number_of_records=int(records) if records and records.isdigit() else None,
                    next_locator=None if next_locator in (None, "", "null") else next_locator,
                )
                return consume(page)
            finally:
                response.close()

        return self.call("bulk_results", fetch)

    def close(self) -> None:
        self._session.close()
