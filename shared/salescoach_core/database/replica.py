"""The read replica: where a read that may be a few seconds stale is served, and when it is not.

A streaming replica (a hot standby of the primary, DATABASE_REPLICA_URL) serves a read while its
replay lag is at most `replica_max_lag_seconds`; past the bound, or when it cannot be reached,
the read goes to the primary instead, so a lagging or dead replica costs the primary's load,
never an error or data older than the bound.

The lag is measured at most once a second (`CHECK_SECONDS`), not per read, by one statement on
each server:

- the primary's WAL position (`pg_current_wal_lsn()`) is read first; if the replica has replayed
  up to it, everything committed before the check is visible there: lag 0. This is what keeps
  an idle primary from looking lagged: with nothing new to replay, the replica's last replayed
  transaction grows old while it is fully caught up.
- otherwise the lag is the age of the last transaction the replica replayed
  (`clock_timestamp() - pg_last_xact_replay_timestamp()`): how far behind the primary's commits
  its data is. After a long idle spell the first commit makes this overstate the lag for the
  moment replay takes; the error is on the safe side (one check interval on the primary).

Comparing with the primary, not only the replica's received and replayed positions, also
catches a replica whose WAL receiver lost the primary: it has replayed all it received and
looks current while the primary moves on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import structlog
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from salescoach_core.database.engine import Database

log = structlog.get_logger(__name__)

CHECK_SECONDS = 1.0
# An unreachable replica is tried again less often: a connection attempt to a host that does
# not answer costs a request up to the connect timeout.
UNREACHABLE_RETRY_SECONDS = 5.0

ReplicaCondition = Literal["in_use", "lagging", "unreachable", "not_a_standby"]
ServedBy = Literal["replica", "primary"]

_PRIMARY_POSITION = text("SELECT pg_current_wal_lsn()::text")
_REPLICA_LAG = text(
    """
    SELECT pg_is_in_recovery(),
           pg_last_wal_replay_lsn() >= CAST(:primary_lsn AS pg_lsn),
           extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())
    """
)


@dataclass(frozen=True)
class ReplicaState:
    """The replica as last checked: whether reads go there, why, and its lag (None: unknown)."""

    condition: ReplicaCondition
    lag_seconds: float | None
    max_lag_seconds: float

    @property
    def usable(self) -> bool:
        return self.condition == "in_use"


class ReadReplica:
    """Routes reads to `replica` while it is within `max_lag_seconds` of `primary`; counts
    where each read was served. Thread-safe; one process-wide instance per replica."""

    def __init__(
        self,
        primary: Database,
        replica: Database,
        *,
        max_lag_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._primary = primary
        self._replica = replica
        self._max_lag = max_lag_seconds
        self._clock = clock
        self._state: ReplicaState | None = None
        self._valid_until = 0.0
        self._checking = threading.Lock()
        self._counts_lock = threading.Lock()
        self._served: dict[ServedBy, int] = {"replica": 0, "primary": 0}

    @property
    def max_lag_seconds(self) -> float:
        return self._max_lag

    def state(self) -> ReplicaState:
        """The last check's result, checked again when older than a second. A caller finding it
        stale while another thread checks uses the previous result instead of waiting."""
        state = self._state
        if state is not None and self._clock() < self._valid_until:
            return state
        if not self._checking.acquire(blocking=state is None):
            assert state is not None
            return state
        try:
            if self._state is not None and self._clock() < self._valid_until:
                return self._state
            return self._record(self._check())
        finally:
            self._checking.release()

    def served(self) -> dict[ServedBy, int]:
        """Reads served so far by the replica and by the primary in its place."""
        with self._counts_lock:
            return dict(self._served)

    @contextmanager
    def connect(self) -> Iterator[Connection | None]:
        """A connection to the replica inside a transaction, or None when this read must go to
        the primary (lagging or unreachable replica). Counted either way."""
        conn = self._open() if self.state().usable else None
        self._count("replica" if conn is not None else "primary")
        if conn is None:
            yield None
            return
        with conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self._replica.dispose()

    def _open(self) -> Connection | None:
        try:
            # The pool pings a pooled connection first, so a replica that went away since the
            # last check fails here, before any of the request's statements.
            return self._replica.engine().connect()
        except DBAPIError as exc:
            log.warning("read_replica_unreachable", error=type(exc.orig).__name__)
            # Not under the check's lock: a check in progress may be waiting on the same replica.
            self._record(self._unreachable())
            return None

    def _check(self) -> ReplicaState:
        try:
            with self._primary.engine().connect() as conn:
                primary_lsn = conn.execute(_PRIMARY_POSITION).scalar_one()
            with self._replica.engine().connect() as conn:
                in_recovery, caught_up, age = conn.execute(_REPLICA_LAG, {"primary_lsn": primary_lsn}).one()
        except DBAPIError as exc:
            log.warning("read_replica_check_failed", error=type(exc.orig).__name__)
            return self._unreachable()
        if not in_recovery:
            # A promoted or unrelated server: its data may have diverged from the primary's.
            return ReplicaState("not_a_standby", None, self._max_lag)
        lag = 0.0 if caught_up else (None if age is None else max(float(age), 0.0))
        condition: ReplicaCondition = "in_use" if lag is not None and lag <= self._max_lag else "lagging"
        return ReplicaState(condition, lag, self._max_lag)

    def _unreachable(self) -> ReplicaState:
        return ReplicaState("unreachable", None, self._max_lag)

    def _record(self, state: ReplicaState) -> ReplicaState:
        previous = self._state
        if previous is None or previous.condition != state.condition:
            log.info("read_replica_state", condition=state.condition, lag_seconds=state.lag_seconds)
        interval = UNREACHABLE_RETRY_SECONDS if state.condition == "unreachable" else CHECK_SECONDS
        self._state = state
        self._valid_until = self._clock() + interval
        return state

    def _count(self, served_by: ServedBy) -> None:
        with self._counts_lock:
            self._served[served_by] += 1


def read_replica(primary: Database) -> ReadReplica | None:
    """The replica of the primary's settings (DATABASE_REPLICA_URL), or None when there is none.
    Its connections carry the same timeouts as the primary's."""
    settings = primary.settings
    if settings.database_replica_url is None:
        return None
    replica = Database(
        settings, for_requests=primary.for_requests, url=settings.database_replica_url.get_secret_value()
    )
    return ReadReplica(primary, replica, max_lag_seconds=settings.replica_max_lag_seconds)
