"""The Salesforce client's error handling: retries, re-login, and the errors that must not be retried."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from simple_salesforce.exceptions import SalesforceExpiredSession, SalesforceMalformedRequest

from salescoach_core.settings import Settings
from salescoach_sync.client import SalesforceClient
from salescoach_sync.errors import (
    NotConfiguredError,
    QuotaStop,
    SalesforceAuthError,
    SalesforceRequestError,
    SalesforceUnavailableError,
)
from tests.plugins.sync import SyncEnv


def _error(cls: type[Exception], status: int, code: str) -> Exception:
    return cls(
        "https://example/services/data", status, "query", [{"errorCode": code, "message": code.lower()}]
    )


def test_unable_to_lock_row_is_retried(sync_env: SyncEnv) -> None:
    client = SalesforceClient(sync_env.settings)
    attempts = []

    def flaky(sf: Any) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise _error(SalesforceMalformedRequest, 400, "UNABLE_TO_LOCK_ROW")
        return "done"

    assert client.call("update", flaky) == "done"
    assert len(attempts) == 3


def test_expired_session_logs_in_again(sync_env: SyncEnv) -> None:
    client = SalesforceClient(sync_env.settings)
    client.connect()
    issued = sync_env.emulator.stats()["tokensIssued"]
    sync_env.emulator.expire_tokens()

    assert client.describe("Task")["name"] == "Task"
    assert sync_env.emulator.stats()["tokensIssued"] == issued + 1


def test_tokens_refused_one_after_another_fail_with_a_message(sync_env: SyncEnv) -> None:
    client = SalesforceClient(sync_env.settings)

    def refused(sf: Any) -> None:
        raise _error(SalesforceExpiredSession, 401, "INVALID_SESSION_ID")

    with pytest.raises(SalesforceAuthError, match="session policies"):
        client.call("query", refused)


def test_bad_credentials_fail_at_once_naming_the_settings(sync_env: SyncEnv) -> None:
    settings = sync_env.settings.model_copy(update={"sf_client_secret": SecretStr("wrong")})
    client = SalesforceClient(settings)

    with pytest.raises(SalesforceAuthError, match="SALESCOACH_SF_CLIENT_ID") as excinfo:
        client.connect()
    assert "invalid_client" in str(excinfo.value)
    assert sync_env.emulator.stats()["handlers"]["oauth_token"] == 1  # no retries


def test_unknown_ca_fails_at_once_naming_the_setting(sync_env: SyncEnv) -> None:
    client = SalesforceClient(sync_env.settings.model_copy(update={"sf_ca_bundle": None}))

    with pytest.raises(SalesforceUnavailableError, match="SALESCOACH_SF_CA_BUNDLE"):
        client.connect()
    assert sync_env.emulator.stats()["handlers"].get("oauth_token", 0) == 0


def test_an_unreadable_ca_bundle_is_a_configuration_error_naming_the_file(
    sync_env: SyncEnv, tmp_path: Path
) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    for bundle in (tmp_path / "missing.pem", not_pem):
        client = SalesforceClient(sync_env.settings.model_copy(update={"sf_ca_bundle": bundle}))

        with pytest.raises(NotConfiguredError, match=f"SALESCOACH_SF_CA_BUNDLE={bundle}"):
            client.connect()
    assert sync_env.emulator.stats()["handlers"].get("oauth_token", 0) == 0


def test_request_limit_exceeded_is_a_quota_stop(sync_env: SyncEnv) -> None:
    client = SalesforceClient(sync_env.settings)
    client.connect()

    def refused(sf: Any) -> None:
        raise _error(SalesforceMalformedRequest, 403, "REQUEST_LIMIT_EXCEEDED")

    with pytest.raises(QuotaStop, match="REQUEST_LIMIT_EXCEEDED"):
        client.call("query", refused)


def test_malformed_query_is_not_retried(sync_env: SyncEnv) -> None:
    client = SalesforceClient(sync_env.settings)

    with pytest.raises(SalesforceRequestError, match="MALFORMED_QUERY"):
        client.query("SELECT Nope FROM", include_deleted=False)
    assert sync_env.emulator.stats()["handlers"]["query"] == 1


def test_missing_connection_settings_say_what_to_set() -> None:
    client = SalesforceClient(Settings(sf_client_id=None))
    with pytest.raises(NotConfiguredError, match="SALESCOACH_SF_CLIENT_ID"):
        client.connect()


def test_a_login_url_that_is_not_https_is_a_configuration_error_naming_the_setting() -> None:
    settings = Settings(
        sf_client_id="id", sf_client_secret=SecretStr("secret"), sf_login_url="login.salesforce.com"
    )

    with pytest.raises(NotConfiguredError, match=r"SALESCOACH_SF_LOGIN_URL=login\.salesforce\.com "):
        SalesforceClient(settings).connect()
