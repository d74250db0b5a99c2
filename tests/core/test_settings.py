"""Settings: prefix, DATABASE_URL, .env, validation messages, and where each value came from."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from salescoach_core.settings import Settings, describe_sources


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (
        "DATABASE_URL",
        "SALESCOACH_DATABASE_URL",
        "SALESCOACH_API_PORT",
        "SALESCOACH_STATE_DIR",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_defaults_select_embedded_database_and_emulator() -> None:
    settings = Settings()
    assert settings.database_url is None
    assert settings.state_dir == Path(".salescoach")
    assert settings.salesforce_mode == "emulator"


def test_conventional_database_url_is_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db:5432/sc")
    settings = Settings()
    assert settings.database_url is not None
    assert settings.database_url.get_secret_value() == "postgresql://u:p@db:5432/sc"
    assert "p@db" not in repr(settings)


def test_non_postgres_database_url_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://root@localhost/test")
    with pytest.raises(ValidationError) as excinfo:
        Settings()
    assert "DATABASE_URL" in str(excinfo.value)
    assert "postgresql://" in str(excinfo.value)


def test_unknown_time_zone_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESCOACH_ORG_TIMEZONE", "Mars/Olympus")
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        Settings()


def test_prefixed_variables_and_dotenv_are_read_and_their_sources_reported(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path(".env").write_text("SALESCOACH_API_PORT=9100\nSALESCOACH_SF_CLIENT_ID=3MVG9abc\n")
    monkeypatch.setenv("SALESCOACH_STATE_DIR", "/var/lib/salescoach")
    settings = Settings()
    assert settings.api_port == 9100
    assert settings.state_dir == Path("/var/lib/salescoach")
    assert settings.salesforce_mode == "real"
    sources = {row.name: row.source for row in describe_sources(settings)}
    assert sources["api_port"] == ".env (SALESCOACH_API_PORT)"
    assert sources["state_dir"] == "environment (SALESCOACH_STATE_DIR)"
    assert sources["log_level"] == "default"


def test_secrets_are_masked_in_the_sources_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SALESCOACH_SF_CLIENT_SECRET", "s3cr3t-value")
    rows = {row.name: row for row in describe_sources(Settings())}
    assert rows["sf_client_secret"].value == "********"


@pytest.mark.parametrize(
    ("login_url", "mode"),
    [
        # Salesforce never serves its login on a loopback address; the local emulator does.
        ("https://127.0.0.1:8443", "emulator"),
        ("https://127.3.2.1", "emulator"),
        ("https://localhost:8443", "emulator"),
        ("https://[::1]:8443", "emulator"),
        ("https://login.salesforce.com", "real"),
        ("https://acme.my.salesforce.com", "real"),
        ("https://10.0.0.7:8443", "real"),
    ],
)
def test_salesforce_mode_with_a_client_id_follows_the_login_host(login_url: str, mode: str) -> None:
    settings = Settings(sf_client_id="3MVG9abc", sf_login_url=login_url)
    assert settings.salesforce_mode == mode


@pytest.mark.parametrize("host", ['127.0.0.1" -c "log_statement=all', "a b", "host;rm", ""])
def test_embedded_listen_addresses_refuse_anything_but_hosts(host: str) -> None:
    # pg_ctl passes the value through a shell: quotes, spaces and separators must never reach it.
    with pytest.raises(ValidationError, match="host names or IP addresses"):
        Settings(embedded_pg_host=host)


def test_embedded_listen_addresses_take_a_list_and_the_wildcard() -> None:
    assert Settings(embedded_pg_host="127.0.0.1, ::1").embedded_pg_host == "127.0.0.1,::1"
    assert Settings(embedded_pg_host="*").embedded_pg_host == "*"
