"""The one Settings object: environment variables with the SALESCOACH_ prefix and `.env`."""

from __future__ import annotations

import ipaddress
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from salescoach_core.roles import Role

ENV_PREFIX = "SALESCOACH_"
# A host name or address; never starting with "-", which pg_ctl would read as an option.
_LISTEN_ADDRESS = re.compile(r"\*|[A-Za-z0-9:][A-Za-z0-9.:_-]*")
ENV_FILE = ".env"


class Settings(BaseSettings):
    """Configuration of every salescoach process. See docs/configuration.md."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        env_ignore_empty=True,
    )

    database_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "SALESCOACH_DATABASE_URL"),
        description="External PostgreSQL (postgresql://user:pass@host:port/db). "
        "Unset: an embedded PostgreSQL is started under the state directory.",
    )
    state_dir: Path = Field(
        default=Path(".salescoach"),
        description="Where local state lives: embedded PostgreSQL data, emulator org and certificates.",
    )
    embedded_database_name: str = Field(
        default="salescoach", description="Database created on the embedded server."
    )
    embedded_pg_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="TCP port the embedded server also listens on, with password (SCRAM) logins, "
        "for BI tools and psql; unset: its Unix socket only.",
    )
    embedded_pg_host: str = Field(
        default="127.0.0.1",
        description="Addresses the embedded server's TCP port listens on (PostgreSQL "
        "listen_addresses: comma-separated host names or IPs, `*` for all).",
    )
    embedded_pg_password: SecretStr | None = Field(
        default=None,
        description="Password of the embedded server's `postgres` login over TCP; unset: one is "
        "generated into embedded-pg-password in the state directory (mode 0600).",
    )

    database_replica_url: SecretStr | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_REPLICA_URL", "SALESCOACH_DATABASE_REPLICA_URL"),
        description="A streaming replica (hot standby) of DATABASE_URL: the API's scorecard, analytics, "
        "list and export reads go there while it lags at most `replica_max_lag_seconds`. Unset: every "
        "read goes to the primary.",
    )
    replica_max_lag_seconds: float = Field(
        default=10.0,
        gt=0,
        description="Largest replay lag of DATABASE_REPLICA_URL at which reads still go to it; past it "
        "(or when it is unreachable) they go to the primary until it catches up.",
    )
    database_connect_timeout_seconds: int = Field(
        default=5,
        ge=2,
        le=60,
        description="How long a new database connection may take (libpq's connect_timeout; at least 2).",
    )
    database_pool_timeout_seconds: float = Field(
        default=5.0,
        gt=0,
        le=60,
        description="How long a request waits for a free pooled connection before answering 503.",
    )
    database_statement_timeout_ms: int = Field(
        default=30_000,
        ge=100,
        description="Longest statement an API request may run; past it the request answers 503. "
        "The sync worker and the CLI are not bounded by it.",
    )
    database_lock_timeout_ms: int = Field(
        default=5_000,
        ge=10,
        description="Longest an API request waits for a row or table lock before answering 503.",
    )

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = Field(
        default="json", description="json for machines, console for people at a terminal."
    )

    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    rate_limit_per_minute: int = Field(
        default=600,
        ge=0,
        description="Requests one API key or OIDC subject may make per minute, counted across every API "
        "process; 0 disables.",
    )
    rate_limit_storage: SecretStr | None = Field(
        default=None,
        description="Where the rate limit counts: unset, PostgreSQL (a table); or a storage URI of the "
        "`limits` library, such as redis://host:6379/0.",
    )
    max_request_body_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        description="Largest request body the API reads (the quota CSV upload may be larger); "
        "past it the answer is 413 `request_too_large`.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Browser origins allowed to call the API (comma-separated or JSON list); empty: none.",
    )

    oidc_issuer: str | None = Field(
        default=None, description="Issuer (iss) of accepted OIDC access tokens; unset: API keys only."
    )
    oidc_audience: str | None = Field(default=None, description="Required audience (aud) of OIDC tokens.")
    oidc_jwks_url: str | None = Field(
        default=None, description="JWKS URL; unset: discovered from the issuer's openid-configuration."
    )
    oidc_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["RS256", "ES256", "PS256"],
        description="Accepted signature algorithms; asymmetric only (none and HS* are refused).",
    )
    oidc_sf_user_id_claim: str | None = Field(
        default=None, description="Claim holding the caller's Salesforce User Id (preferred over email)."
    )
    oidc_email_claim: str = Field(
        default="email", description="Claim whose value is looked up in sf_user.email to find the user."
    )
    oidc_role_claim: str = Field(
        default="roles", description="Claim (string or list; dotted path allowed) holding the role(s)."
    )
    oidc_role_map: dict[str, Role] = Field(
        default_factory=dict,
        description='IdP role or group to salescoach role, JSON: {"sales-managers": "manager"}; '
        "empty: claim values must be the role names themselves.",
    )
    oidc_leeway_seconds: int = Field(default=30, ge=0, description="Clock skew allowed on exp, nbf and iat.")
    oidc_jwks_cache_seconds: int = Field(default=300, gt=0, description="How long a fetched JWKS is reused.")
    oidc_jwks_refresh_cooldown_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Least time between JWKS refetches forced by an unknown kid (stops kid-spraying).",
    )

    org_timezone: str = Field(default="UTC", description="IANA zone in which dates of the org are compared.")

    sf_login_url: str = Field(
        default="https://login.salesforce.com",
        description="OAuth login host; a My Domain URL works too.",
    )
    sf_client_id: str | None = Field(
        default=None, description="Connected app consumer key. Unset: the local emulator is used."
    )
    sf_client_secret: SecretStr | None = None
    sf_username: str | None = None
    sf_jwt_key_file: Path | None = None
    sf_api_version: str = "62.0"
    sf_ca_bundle: Path | None = None
    sf_refresh_token: SecretStr | None = Field(
        default=None, description="OAuth refresh token (refresh-token flow, with the client id)."
    )
    sf_timeout_seconds: float = Field(
        default=120.0, gt=0, description="Read timeout of one Salesforce HTTP request."
    )
    sf_task_external_id_field: str = Field(
        default="Salescoach_Id__c",
        description="Task field holding salescoach's write-back key (synced into sf_task.external_id).",
    )

    sync_interval_seconds: float = Field(
        default=60.0, gt=0, description="Pause between passes of `salescoach sync worker`."
    )
    sync_overlap_seconds: float = Field(
        default=120.0,
        ge=0,
        description="Incremental windows start this long before the high-water mark, for records "
        "committed late with an earlier SystemModstamp.",
    )
    sync_rest_threshold: int = Field(
        default=10_000,
        ge=0,
        description="Incremental deltas up to this many records use REST query; larger ones Bulk API 2.0.",
    )
    sync_quota_share: float = Field(
        default=0.8,
        gt=0,
        le=1,
        description="Stop cleanly once this share of the org's daily API requests is used.",
    )
    sync_reconcile_every_hours: float = Field(
        default=24.0,
        gt=0,
        description="Compare full id sets this often, to catch records purged from the recycle bin.",
    )
    sync_custom_fields: dict[str, list[str]] = Field(
        default_factory=dict,
        description='Custom fields to carry into custom_fields, JSON: {"Opportunity": ["Region__c"]}.',
    )
    sync_field_sources: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Read a standard column from another field, JSON: "
        '{"Opportunity": {"Amount": "ARR__c"}} fills sf_opportunity.amount from ARR__c.',
    )
    sync_concurrency: int = Field(
        default=3,
        ge=1,
        le=16,
        description="Objects synced at once in a pass, each with its own database connection and "
        "Salesforce session; 1 syncs them one after another in sync order.",
    )
    sync_deleted_every_minutes: float = Field(
        default=15.0,
        ge=0,
        description="Ask getDeleted this often (over the span since its last call); 0: every pass. "
        "queryAll brings soft deletes with the delta; getDeleted adds only purged records.",
    )
    sf_daily_call_budget: int | None = Field(
        default=None,
        gt=0,
        description="Salesforce API calls the worker may spend per UTC day; it stretches the "
        "interval between passes to stay inside. Unset: no budget (the quota guard still applies).",
    )
    sf_daily_call_budget_share: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="The daily budget as a share of the org's DailyApiRequests limit (read from "
        "Sforce-Limit-Info or /limits); the smaller of this and SALESCOACH_SF_DAILY_CALL_BUDGET wins.",
    )
    sync_bulk_page_records: int = Field(
        default=100_000,
        ge=1,
        description="Records per Bulk API 2.0 result page (maxRecords); each page streams into COPY.",
    )

    segment_thresholds: list[float] = Field(
        default=[0.50, 0.90, 1.10, 1.30],
        min_length=4,
        max_length=4,
        description="Pace at which Low Core, Core, High Core and Star begin (ascending).",
    )
    activity_call_subtypes: list[str] = Field(
        default=["Call"], description="Task.TaskSubtype values that are calls."
    )
    activity_call_types: list[str] = Field(default=["Call"], description="Task.Type values that are calls.")
    activity_email_subtypes: list[str] = Field(
        default=["Email"], description="Task.TaskSubtype values that are emails."
    )
    scorecard_cache_seconds: float = Field(
        default=30,
        ge=0,
        description="Longest a cached team report is served; a change to its data replaces it sooner. "
        "0: no cache.",
    )
    min_elapsed_working_days: int = Field(
        default=5,
        ge=0,
        description="Working days (Mon-Fri, org zone) of a running period that must have passed "
        "before it gets a segment or a skill/will verdict; 0 judges from the first instant.",
    )
    willingness_window_days: int = Field(
        default=90, ge=1, description="Trailing window of willingness_to_change, in days."
    )
    stale_days: int = Field(
        default=30,
        ge=1,
        description="Pipeline health: an open opportunity with no stage change for this "
        "many days (and no recent activity) is stale.",
    )
    stale_activity_days: int = Field(
        default=14,
        ge=1,
        description="Pipeline health: days without a Task or Event on an open "
        "opportunity (with no recent stage change) before it is stale.",
    )
    whatif_baseline_months: int = Field(
        default=3, ge=1, le=24, description="What-if: trailing full months the baseline is measured over."
    )
    chokepoint_min_opportunities: int = Field(
        default=5,
        ge=1,
        description="Stage conversion: opportunities of the rep that must have left a stage "
        "before it can be the chokepoint.",
    )

    goal_limit_per_period: int = Field(
        default=2, ge=1, description="Active coaching goals a rep may have in overlapping periods."
    )
    consequence_after_missed_sessions: int = Field(
        default=3,
        ge=1,
        description="Consecutive held developmental sessions with missed commitments before the "
        "diagnosis recommends consequence coaching.",
    )
    diagnosis_willingness_threshold: float = Field(
        default=0.8,
        ge=0,
        le=1,
        description="willingness_to_change below this is diagnosed `will` (commitments missed).",
    )
    plan_days: int = Field(default=30, ge=1, description="Days ahead the rep's plan view covers.")
    public_url: str | None = Field(
        default=None,
        description="Base URL of the salescoach frontend or API; when set, written-back Tasks link to it.",
    )
    writeback_batch_size: int = Field(
        default=200, ge=1, le=200, description="Tasks per composite/sobjects request (Salesforce allows 200)."
    )
    writeback_max_attempts: int = Field(
        default=10, ge=1, description="Send attempts of one change before it is recorded as failed."
    )
    writeback_backoff_seconds: float = Field(
        default=30.0,
        ge=0,
        description="First pause before a failed write-back is retried; doubles each time.",
    )
    writeback_backoff_max_seconds: float = Field(
        default=3600.0, ge=0, description="Longest pause between write-back retries."
    )
    writeback_claim_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How long a sender holds claimed outbox rows before another sender may take them.",
    )
    writeback_open_status: str = Field(default="Not Started", description="Task Status of an open item.")
    writeback_completed_status: str = Field(
        default="Completed", description="Task Status of a completed item or an achieved goal."
    )
    writeback_canceled_status: str = Field(
        default="Deferred", description="Task Status of a canceled item or a missed or abandoned goal."
    )

    event_retention_days: int = Field(
        default=30,
        ge=1,
        description="Days events stay in the feed; older ones (and their deliveries) are pruned.",
    )
    webhook_retry_window_seconds: float = Field(
        default=259_200.0,
        gt=0,
        description="How long a webhook delivery is retried after its event (3 days) before it fails.",
    )
    webhook_backoff_seconds: float = Field(
        default=5.0,
        ge=0,
        description="First pause before a failed webhook delivery is retried; doubles each time.",
    )
    webhook_backoff_max_seconds: float = Field(
        default=3600.0, ge=0, description="Longest pause between webhook delivery retries."
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, description="Time a receiver has to answer one webhook request."
    )
    webhook_batch_size: int = Field(default=100, ge=1, description="Deliveries one worker claims at a time.")
    webhook_concurrency: int = Field(
        default=8, ge=1, description="Webhook requests one worker has in flight at once."
    )
    webhook_claim_seconds: float = Field(
        default=60.0,
        gt=0,
        description="How long claimed deliveries stay with a worker before another may retry them.",
    )
    webhook_interval_seconds: float = Field(
        default=5.0, gt=0, description="Pause between passes of `salescoach webhooks deliver --loop`."
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="Let webhooks go to loopback, private and other non-public addresses (receivers "
        "on an internal network); link-local, multicast and reserved addresses stay refused.",
    )
    idempotency_retention_hours: float = Field(
        default=24.0,
        gt=0,
        description="How long a POST's response is replayed for the same `Idempotency-Key`.",
    )

    @field_validator("cors_origins", "oidc_algorithms", mode="before")
    @classmethod
    def _comma_or_json_list(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("oidc_algorithms")
    @classmethod
    def _asymmetric_algorithms_only(cls, value: list[str]) -> list[str]:
        # A symmetric or absent signature would let anyone holding the shared secret (or
        # nobody at all) mint tokens; an IdP's JWKS only ever publishes public keys.
        refused = [alg for alg in value if alg.lower() == "none" or alg.upper().startswith("HS")]
        if refused:
            raise ValueError(f"refused algorithms {refused}: use asymmetric ones such as RS256 or ES256")
        if not value:
            raise ValueError("at least one algorithm is needed, e.g. RS256")
        return value

    @field_validator("org_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r} (e.g. 'America/New_York')") from exc
        return value

    @field_validator("embedded_pg_host")
    @classmethod
    def _listen_addresses(cls, value: str) -> str:
        # pg_ctl hands the value to a shell: allow only what host names and addresses contain.
        parts = [part.strip() for part in value.split(",")]
        if not parts or any(not _LISTEN_ADDRESS.fullmatch(part) for part in parts):
            raise ValueError(
                f"{value!r} is not a list of host names or IP addresses (e.g. '127.0.0.1' or '*')"
            )
        return ",".join(parts)

    @field_validator("database_url", "database_replica_url")
    @classmethod
    def _postgres_only(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value():
            return None
        scheme = value.get_secret_value().split(":", 1)[0]
        if scheme not in {"postgres", "postgresql", "postgresql+psycopg"}:
            raise ValueError(f"must be a postgresql:// URL, got scheme {scheme!r}")
        return value

    @field_validator("segment_thresholds")
    @classmethod
    def _ascending(cls, value: list[float]) -> list[float]:
        if sorted(value) != value or len(set(value)) != len(value):
            raise ValueError("segment thresholds must be strictly ascending, e.g. [0.5, 0.9, 1.1, 1.3]")
        return value

    @property
    def salesforce_mode(self) -> Literal["emulator", "real"]:
        """The local emulator when no connected app is configured or the login host is a
        loopback address (`salescoach run` points a client id at the emulator it starts there;
        Salesforce never serves on loopback); else a real org."""
        if not self.sf_client_id or _is_loopback(urlsplit(self.sf_login_url).hostname or ""):
            return "emulator"
        return "real"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()


@dataclass(frozen=True)
class SettingSource:
    """Where one setting's value came from, for `salescoach doctor`."""

    name: str
    value: str
    source: str


def describe_sources(settings: Settings) -> list[SettingSource]:
    """Each setting with its value (secrets masked) and its origin: env, .env or default."""
    dotenv = {k.upper(): v for k, v in dotenv_values(ENV_FILE).items()} if Path(ENV_FILE).exists() else {}
    environ = {k.upper(): v for k, v in os.environ.items()}
    rows = []
    for name, field in Settings.model_fields.items():
        aliases = (
            list(field.validation_alias.choices)
            if isinstance(field.validation_alias, AliasChoices)
            else [f"{ENV_PREFIX}{name}".upper()]
        )
        source = "default"
        for alias in aliases:
            key = str(alias).upper()
            if key in environ:
                source = f"environment ({key})"
                break
            if key in dotenv:
                source = f"{ENV_FILE} ({key})"
                break
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            shown = "********"
        elif value is None:
            shown = "(unset)"
        else:
            shown = str(value)
        rows.append(SettingSource(name=name, value=shown, source=source))
    return rows
