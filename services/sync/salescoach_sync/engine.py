"""The sync pass: per object, under a PostgreSQL advisory lock, a full or incremental read
loaded and merged in one transaction that also moves the object's high-water mark.

Crash safety comes from that transaction: kill the process anywhere and PostgreSQL rolls the
object back to its last checkpoint; the next run repeats the work and converges. Several
workers may run: `pg_try_advisory_xact_lock` on (org, object) lets one of them sync an
object while the others skip it, and the lock goes with the transaction, even on kill -9.

Within a pass, up to `sync_concurrency` objects run at once, each in a thread with its own
database connection and Salesforce session (one login shared). Objects start in sync order;
a pass spends most of its time waiting on Salesforce and PostgreSQL, so the waits overlap.
"""

from __future__ import annotations

import contextvars
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import structlog
from sqlalchemy import Engine

from salescoach_core.settings import Settings
from salescoach_sync.client import ResultPage, SalesforceClient, salesforce_datetime
from salescoach_sync.errors import (
    NotConfiguredError,
    QueryTimeoutError,
    QuotaStop,
    SalesforceAccessError,
    SalesforceAuthError,
    SalesforceRequestError,
    SalesforceUnavailableError,
    SyncError,
    SyncInterrupted,
)
from salescoach_sync.events import record_sync_completed
from salescoach_sync.extract import StopToken, bulk_query
from salescoach_sync.hooks import run_refresh_hooks
from salescoach_sync.load import IDS_TABLE, STAGE_TABLE, Loader, MergeCounts, RestPage
from salescoach_sync.objects import MODSTAMP, ObjectSpec, ResolvedObject, object_specs, resolve
from salescoach_sync.probe import (
    Probe,
    QuietCheckpoint,
    deleted_span_start,
    probe_changes,
    quiet_checkpoint,
    read_deleted,
    window_start,
)
from salescoach_sync.progress import LogProgress, SyncProgress
from salescoach_sync.report import Mode, ObjectResult, Status, SyncReport
from salescoach_sync.state import (
    ObjectState,
    Outcome,
    driver_connection,
    mark_running,
    read_state,
    read_states,
    relax_durability,
    save_outcome,
)

log = structlog.get_logger(__name__)

DESCRIBE_TTL_SECONDS = 3600.0
# A first load at least this large drops the table's secondary indexes and builds them after.
INDEX_REBUILD_MIN_ROWS = 50_000
# An incremental delta at least this large gets planner statistics (ANALYZE) before its merge;
# a smaller one is merged by primary key whatever the estimates say, and ANALYZE would cost a
# tenth of the pass (57 ms of 0.9 s for a 10k-record delta).
ANALYZE_STAGE_MIN_ROWS = 100_000
# QUERY_TIMEOUT: windows are halved down to this size; the lower bound of a window that has none.
MIN_QUERY_WINDOW = timedelta(minutes=1)
EARLIEST_MODSTAMP = datetime(2000, 1, 1, tzinfo=UTC)
# Errors after which the next objects cannot do better: stop the pass.
_FATAL = (QuotaStop, SyncInterrupted, SalesforceAuthError, NotConfiguredError, SalesforceUnavailableError)
_FATAL_CODES = frozenset(error.code for error in _FATAL)


def _now() -> datetime:
    return datetime.now(UTC)


def _capped(modstamp: datetime | None, run: _Run) -> datetime | None:
    """The high-water mark never passes the start of the run: a SystemModstamp in the future
    (clock skew, imported data) would otherwise hide every change made until that time."""
    return min(modstamp, run.started_at) if modstamp is not None else None


@dataclass
class _Run:
    """Mutable figures of one object's run."""

    mode: Mode
    started_at: datetime
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rows_read: int = 0
    reconciled: bool = False
    # End of the span getDeleted covered in this run (checkpoint for the next call).
    deleted_checked_at: datetime | None = None
    # When this run's read of the changes began (a probe's instant when it found none).
    window_read_at: datetime | None = None
    # A describe made by this run, saved with its outcome: (fields, when).
    described: tuple[list[dict[str, Any]], datetime] | None = None
    marked_running: bool = False


class SyncEngine:
    """Runs sync passes for one org into one database. Keep one per process (it caches describes)."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        client: SalesforceClient | None = None,
        progress: SyncProgress | None = None,
        stop: StopToken | None = None,
    ) -> None:
        self._settings = settings
        self._engine = engine
        self._main_client = client or SalesforceClient(settings)
        self._forks: list[SalesforceClient] = []
        self._local = threading.local()
        self.progress = progress or LogProgress()
        self.stop = stop or StopToken()
        self._resolved: dict[str, tuple[ResolvedObject, float]] = {}

    @property
    def api_calls(self) -> int:
        """Salesforce API calls this engine's clients made so far (every thread's)."""
        return sum(c.api_calls for c in (self._main_client, *self._forks))

    @property
    def client(self) -> SalesforceClient:
        """The Salesforce client of the calling thread's object (the main one outside a pass)."""
        client: SalesforceClient | None = getattr(self._local, "client", None)
        return client or self._main_client

    def close(self) -> None:
        for client in (self._main_client, *self._forks):
            client.close()

    # ------------------------------------------------------------------ a pass

    def run(self, *, objects: Sequence[str] | None = None, full: bool = False) -> SyncReport:
        """One pass over `objects` (all by default). Never raises for Salesforce trouble: the
        report says what happened, object by object (in sync order)."""
        started = time.perf_counter()
        specs = object_specs(objects)
        self._main_client.forget_login_failure()
        calls_before = self.api_calls
        probes = {} if full else self._probe(specs)
        quiet = self._quiet(specs, probes)
        busy = [spec for spec in specs if spec.name not in quiet]
        found = {n: p for n, (_, p) in probes.items()}
        if not quiet:
            results = self._run_objects(busy, full=full, probes=found)
        else:
            # The quiet objects settle on a thread of their own while the others read: their
            # few statements stay off the pass's critical path.
            with ThreadPoolExecutor(1, thread_name_prefix="sync-quiet") as pool:
                settling = pool.submit(contextvars.copy_context().run, self._settle_quiet, quiet)
                results = self._run_objects(busy, full=full, probes=found)
                settled = settling.result()
            results.update(settled)
            # One whose state moved since the probe (another worker synced it) runs as usual.
            moved = [spec for spec in specs if spec.name in quiet and spec.name not in settled]
            if moved:
                results.update(self._run_objects(moved, full=full, probes=found))
        report = SyncReport(
            [results[spec.name] for spec in specs if spec.name in results],
            seconds=time.perf_counter() - started,
        )
        run_refresh_hooks(self._engine, report)
        record_sync_completed(self._engine, report)
        first = report.first_error
        log.info(
            "sync_pass_finished",
            ok=report.ok,
            stopped_by_quota=report.stopped_by_quota,
            changed=report.changed_objects,
            objects=len(report.results),
            seconds=round(report.seconds, 3),
            error=first.error if first else None,
            api_calls=self.api_calls - calls_before,
        )
        return report

    def _probe(self, specs: Sequence[ObjectSpec]) -> dict[str, tuple[ObjectState, Probe]]:
        """One composite request for the objects that will run incrementally (module probe):
        per object, the state the probe was planned on and what it found."""
        with driver_connection(self._engine) as conn:
            states = read_states(conn, [spec.name for spec in specs])
        items = [
            (spec, state)
            for spec in specs
            if (state := states.get(spec.name)) is not None and state.last_full_sync_at
        ]
        if not items:
            return {}
        try:
            probes = probe_changes(self.client, items, self._settings, _now())
        except SyncError as exc:
            # Login refused, quota stop: each object meets it again and reports it.
            log.warning("sync_probe_failed", code=exc.code, error=str(exc))
            return {}
        return {spec.name: (state, probes[spec.name]) for spec, state in items}

    def _quiet(
        self, specs: Sequence[ObjectSpec], probes: dict[str, tuple[ObjectState, Probe]]
    ) -> dict[str, tuple[ObjectSpec, ObjectState, QuietCheckpoint]]:
        """The objects whose probe shows nothing to do (probe.quiet_checkpoint), by name, with
        the state the probe was planned on and where their checkpoints move. One whose settings
        its last describe cannot satisfy (a configured field it lacks) is not among them:
        sync_object describes anew and reports what is wrong."""
        quiet: dict[str, tuple[ObjectSpec, ObjectState, QuietCheckpoint]] = {}
        for spec in specs:
            state, probe = probes.get(spec.name, (None, None))
            if state is not None and probe is not None and self._fields_resolve(spec, state):
                checkpoint = quiet_checkpoint(spec, state, probe, self._settings)
                if checkpoint is not None:
                    quiet[spec.name] = (spec, state, checkpoint)
        return quiet

    def _settle_quiet(
        self, quiet: dict[str, tuple[ObjectSpec, ObjectState, QuietCheckpoint]]
    ) -> dict[str, ObjectResult]:
        """The quiet objects only move their checkpoints: all of them in ONE transaction on one
        connection, with no staging table, describe, "running" row or Salesforce call. Each
        under its advisory lock (held elsewhere: skipped, as in sync_object); one whose state
        moved since the probe read it (another worker synced it meanwhile) is left out of the
        result, for sync_object."""
        results: dict[str, ObjectResult] = {}
        with driver_connection(self._engine) as conn, conn.transaction():
            relax_durability(conn)
            for spec, state, checkpoint in quiet.values():
                started = time.perf_counter()
                if not self._try_lock(conn, spec):
                    log.info("sync_object_locked_elsewhere", object=spec.name)
                    results[spec.name] = ObjectResult(spec.name, None, "skipped")
                    continue
                if read_state(conn, spec.name) != state:
                    continue
                self.progress.started(spec.name, "incremental")
                run = _Run(mode="incremental", started_at=_now())
                result = ObjectResult(
                    spec.name,
                    "incremental",
                    "ok",
                    seconds=time.perf_counter() - started,
                    high_water_mark=state.high_water_mark,
                )
                save_outcome(
                    conn,
                    spec.name,
                    self._outcome(result, run),
                    deleted_checked_at=checkpoint.deleted_checked_at,
                    window_read_at=checkpoint.window_read_at,
                )
                results[spec.name] = result
        for result in results.values():
            if result.status == "ok":
                self.progress.finished(result)
        return results

    def _fields_resolve(self, spec: ObjectSpec, state: ObjectState) -> bool:
        """Whether the settings' fields resolve against the last describe (this process's, or
        the one saved in sync_state, whatever its age): a check without an API call. The
        result is kept like a describe of that age (`_resolve` describes anew once it is an
        hour old), so a worker checks each object once, not every pass."""
        if spec.name in self._resolved:
            return True
        if state.described_fields is None:
            return False
        try:
            resolved = resolve(spec, {"fields": state.described_fields}, self._settings)
        except SalesforceAccessError:
            return False
        described_at = state.described_at
        age = (_now() - described_at).total_seconds() if described_at else DESCRIBE_TTL_SECONDS
        self._resolved[spec.name] = (resolved, time.monotonic() - max(age, 0.0))
        return True

    def _run_objects(
        self, specs: Sequence[ObjectSpec], *, full: bool, probes: dict[str, Probe]
    ) -> dict[str, ObjectResult]:
        """Sync `specs` on up to `sync_concurrency` threads, taking them in order. An error
        after which no object can do better (quota, auth, stop, outage) starts no more."""
        pending = deque(specs)
        results: dict[str, ObjectResult] = {}
        lock = threading.Lock()
        halted = False

        def work(client: SalesforceClient) -> None:
            nonlocal halted
            self._local.client = client
            try:
                while True:
                    with lock:
                        if halted or not pending:
                            return
                        spec = pending.popleft()
                    result = self.sync_object(spec, full=full, probe=probes.get(spec.name))
                    with lock:
                        results[spec.name] = result
                        if result.status in ("stopped", "interrupted") or result.error_code in _FATAL_CODES:
                            halted = True
            except BaseException:
                # The database went away under this object (sync_object handles the rest):
                # the other threads finish their objects and start no more; run() re-raises.
                with lock:
                    halted = True
                raise
            finally:
                self._local.client = None

        threads = min(self._settings.sync_concurrency, len(specs))
        if threads <= 1:
            work(self._main_client)
            return results
        while len(self._forks) < threads - 1:
            self._forks.append(self._main_client.fork())
        clients = [self._main_client, *self._forks[: threads - 1]]
        with ThreadPoolExecutor(threads, thread_name_prefix="sync") as pool:
            # Each thread runs in a copy of the caller's context: bound log fields carry over.
            futures = [pool.submit(contextvars.copy_context().run, work, c) for c in clients]
            for future in futures:
                future.result()
        return results

    def sync_object(
        self, spec: ObjectSpec, *, full: bool = False, probe: Probe | None = None
    ) -> ObjectResult:
        started = time.perf_counter()
        calls_before = self.client.api_calls
        run: _Run | None = None
        with (
            structlog.contextvars.bound_contextvars(object=spec.name),
            driver_connection(self._engine) as conn,
        ):
            try:
                with conn.transaction():
                    relax_durability(conn)
                    if not self._try_lock(conn, spec):
                        log.info("sync_object_locked_elsewhere", object=spec.name)
                        return ObjectResult(spec.name, None, "skipped")
                    state = read_state(conn, spec.name)
                    mode: Mode = (
                        "full" if full or state is None or state.last_full_sync_at is None else "incremental"
                    )
                    run = _Run(mode=mode, started_at=_now())
                    if mode == "full":
                        self._mark_running(spec, run)
                    self.progress.started(spec.name, mode)
                    resolved = self._resolve(spec, state, run, fresh=full)
                    loader = Loader(conn, resolved)
                    if mode == "full":
                        hwm = self._full(loader, resolved, run)
                    else:
                        assert state is not None
                        hwm = self._incremental(loader, resolved, state, run, probe)
                    result = ObjectResult(
                        spec.name,
                        mode,
                        "ok",
                        inserted=run.inserted,
                        updated=run.updated,
                        deleted=run.deleted,
                        rows_read=run.rows_read,
                        api_calls=self.client.api_calls - calls_before,
                        seconds=time.perf_counter() - started,
                        high_water_mark=hwm,
                        reconciled=run.reconciled,
                    )
                    save_outcome(
                        conn,
                        spec.name,
                        self._outcome(result, run),
                        high_water_mark=hwm,
                        full_synced_at=run.started_at if mode == "full" else None,
                        reconciled_at=run.started_at if run.reconciled else None,
                        described=run.described,
                        deleted_checked_at=run.deleted_checked_at,
                        window_read_at=run.window_read_at,
                    )
            except Exception as exc:
                result = self._failed(conn, spec, run, exc, started, calls_before)
        self.progress.finished(result)
        return result

    # ------------------------------------------------------------------ modes

    def _full(self, loader: Loader, resolved: ResolvedObject, run: _Run) -> datetime | None:
        """Everything (queryAll where deletes matter): merge, and drop rows the org no longer has."""
        empty = loader.target_is_empty()
        direct = loader.direct_columns() if empty else None
        if direct is not None:
            return self._first_load(loader, resolved, run, direct)
        run.rows_read = self._bulk_into_stage(loader, resolved, None)
        if empty:
            # First load: nothing to compare or delete, so no statistics and no anti-join.
            self._merge(loader, run, into_empty=True)
        else:
            loader.analyze_stage()
            self._merge(loader, run)
            run.deleted += loader.delete_missing_from_stage()
        run.reconciled = True
        run.deleted_checked_at = run.window_read_at = run.started_at
        return _capped(loader.max_modstamp(), run)

    def _first_load(
        self, loader: Loader, resolved: ResolvedObject, run: _Run, columns: list[str]
    ) -> datetime | None:
        """A full read into an empty table: the CSV goes straight into the table (no staging
        table, no INSERT ... SELECT), and for a large result its secondary indexes are dropped
        first and built once at the end, all in the object's one transaction: a crash leaves
        the table empty and indexed as before."""
        name = resolved.name
        indexes: list[tuple[str, str]] = []

        def on_total(total: int | None) -> None:
            self.progress.total(name, total)
            if total is not None and total >= INDEX_REBUILD_MIN_ROWS and not indexes:
                candidates = loader.secondary_indexes()
                if candidates and loader.drop_indexes(candidates):
                    indexes.extend(candidates)
                    log.debug("sync_indexes_dropped_for_first_load", object=name, indexes=len(candidates))

        loaded = 0

        def consume(page: ResultPage) -> int:
            nonlocal loaded
            with loader.connection.transaction():
                rows = loader.copy_csv_direct(self._counting(page, name, loaded), columns)
            loaded += rows
            self.progress.page(name, loaded)
            return rows

        def run_job(soql: str) -> None:
            bulk_query(
                self.client,
                soql,
                include_deleted=resolved.spec.query_all,
                consume_page=consume,
                stop=self.stop,
                page_records=self._settings.sync_bulk_page_records,
                on_total=on_total,
            )

        self._in_windows(name, resolved.soql, None, run_job)
        if indexes:
            loader.create_indexes(indexes)
        run.rows_read = run.inserted = loader.target_count()
        run.reconciled = True
        run.deleted_checked_at = run.window_read_at = run.started_at
        return _capped(loader.target_max_modstamp(), run)

    def _incremental(
        self, loader: Loader, resolved: ResolvedObject, state: ObjectState, run: _Run, probe: Probe | None
    ) -> datetime | None:
        spec = resolved.spec
        hwm = state.high_water_mark
        since = window_start(hwm, self._settings.sync_overlap_seconds)
        reconcile = (
            state.last_reconciled_at is None
            or run.started_at - state.last_reconciled_at
            >= timedelta(hours=self._settings.sync_reconcile_every_hours)
        )
        # A probe decided at its own instant whether getDeleted was due; decide the same way.
        now = probe.at if probe is not None else run.started_at
        deleted_start = deleted_span_start(spec, state, since, now, self._settings)
        deleted: list[tuple[str, datetime]] = []
        if deleted_start == "reconcile":
            reconcile = True
        elif isinstance(deleted_start, datetime):
            body = probe.deleted if probe is not None and probe.deleted_start == deleted_start else None
            if body is None:
                body = self.client.get_deleted(spec.name, deleted_start, now)
            span = read_deleted(body, deleted_start, now)
            deleted = span.records
            run.deleted_checked_at = span.checked_until
            if span.bin_emptied:
                # The recycle bin was emptied after our checkpoint: deletes may be invisible.
                log.info(
                    "sync_recycle_bin_emptied",
                    object=spec.name,
                    earliest_date_available=body.get("earliestDateAvailable"),
                )
                reconcile = True
        if reconcile:
            self._mark_running(spec, run)
            run.deleted += self._reconcile(loader, resolved)
            run.reconciled = True
            run.deleted_checked_at = run.deleted_checked_at or run.started_at

        read_from = since
        if probe is not None and probe.changed is not None and probe.counted_from is not None:
            # A trusted probe counted the records stamped at or after its P: those are exactly
            # what is new since the last read (probe.py), so the read starts there and does not
            # read the tail of an earlier change again (the window's overlap did that already).
            read_from = max(since, probe.counted_from) if since is not None else probe.counted_from
        where = f"{MODSTAMP} >= {salesforce_datetime(read_from)}" if read_from is not None else None
        threshold = self._settings.sync_rest_threshold
        first: RestPage | None = None
        read_max: datetime | None = None
        run.window_read_at = run.started_at
        if probe is not None and probe.changed is not None:
            # The composite probe counted what is new since the last read: nothing means
            # nothing to read, and the probe's instant becomes the last read's.
            total = probe.changed
            if total == 0:
                run.window_read_at = probe.seen_until
        elif loader.estimated_rows() > threshold:
            # A table this large can have a delta Bulk reads faster: learn its size from a
            # COUNT() (the probe's window count when its composite had room, else a call of its
            # own) rather than from a first page of records (which makes Salesforce build the
            # whole result behind a cursor), then choose REST, Bulk or nothing.
            # Records changed after the count are still read: it chooses the API, never limits
            # what is read. Smaller tables skip the extra call: their first REST page is the
            # whole delta as a rule and still tells its size.
            total = (
                probe.window
                if probe is not None and probe.window is not None
                else self._delta_count(spec.name, where, include_deleted=spec.query_all)
            )
        else:
            # The first page is merged as it comes: when the delta turns out to need Bulk, the
            # Bulk read merges those records again, which writes and counts nothing (equal
            # values are not written), so the first page's counts stand for them.
            first = loader.merge_rest_page(
                self.client.query_page(resolved.soql(where), include_deleted=spec.query_all)
            )
            total = first.total
        self.progress.total(spec.name, total)
        if total > threshold:
            log.info("sync_delta_uses_bulk", object=spec.name, records=total)
            if first is not None:
                self._count(run, first.counts)
            self._mark_running(spec, run)
            run.rows_read = self._bulk_into_stage(loader, resolved, read_from)
            if run.rows_read:
                if run.rows_read >= ANALYZE_STAGE_MIN_ROWS:
                    loader.analyze_stage()
                self._merge(loader, run)
            read_max = loader.max_modstamp()
        elif total > 0:
            run.rows_read, read_max = self._rest_merge(loader, resolved, where, first, run)
        run.deleted += loader.flag_deleted(deleted)
        read_max = _capped(read_max, run)
        if hwm is None or (read_max is not None and read_max > hwm):
            return read_max
        return hwm

    # ------------------------------------------------------------------ steps

    def _mark_running(self, spec: ObjectSpec, run: _Run) -> None:
        """Commit a "running" row on a connection of its own, so `sync status` shows a long
        read (a full one, a Bulk job, an id reconciliation) while it runs. A small incremental
        read is over in milliseconds: it spares itself the second connection and commit."""
        if run.marked_running:
            return
        with driver_connection(self._engine) as status_conn:
            mark_running(status_conn, spec.name, mode=run.mode, started_at=run.started_at)
        run.marked_running = True

    def _delta_count(self, name: str, where: str | None, *, include_deleted: bool) -> int:
        soql = f"SELECT COUNT() FROM {name}"  # noqa: S608 - SOQL; the object name comes from the specs
        body = self.client.query(f"{soql} WHERE {where}" if where else soql, include_deleted=include_deleted)
        return int(body.get("totalSize", 0))

    def _rest_merge(
        self, loader: Loader, resolved: ResolvedObject, where: str | None, first: RestPage | None, run: _Run
    ) -> tuple[int, datetime | None]:
        """Merge the window over REST, page by page (the first one may be merged already):
        the records read and their greatest SystemModstamp."""
        spec = resolved.spec
        page = first or loader.merge_rest_page(
            self.client.query_page(resolved.soql(where), include_deleted=spec.query_all)
        )
        rows, newest = 0, None
        while True:
            rows += page.rows
            self._count(run, page.counts)
            if page.max_modstamp is not None and (newest is None or page.max_modstamp > newest):
                newest = page.max_modstamp
            self.progress.page(spec.name, rows)
            if page.next_url is None:
                return rows, newest
            self.stop.check()
            page = loader.merge_rest_page(self.client.query_more_page(page.next_url))

    def _bulk_into_stage(self, loader: Loader, resolved: ResolvedObject, since: datetime | None) -> int:
        loader.create_stage()
        self._in_windows(
            resolved.name,
            resolved.soql,
            since,
            lambda soql: self._bulk_into(loader, resolved, soql, STAGE_TABLE, show_progress=True),
        )
        return loader.staged_count()

    def _bulk_into(
        self, loader: Loader, resolved: ResolvedObject, soql: str, table: str, *, show_progress: bool
    ) -> None:
        """Stream every page of a Bulk query into `table`, one savepoint per page: a page that
        breaks mid-stream is rolled back and fetched again, never loaded twice."""
        name = resolved.name
        loaded = 0

        def consume(page: ResultPage) -> int:
            nonlocal loaded
            chunks = self._counting(page, name, loaded) if show_progress else page.iter_bytes()
            with loader.connection.transaction():
                loader.copy_csv(chunks, table=table)
            loaded += page.number_of_records or 0
            if show_progress:
                self.progress.page(name, loaded)
            return page.number_of_records or 0

        bulk_query(
            self.client,
            soql,
            include_deleted=resolved.spec.query_all,
            consume_page=consume,
            stop=self.stop,
            page_records=self._settings.sync_bulk_page_records,
            on_total=(lambda total: self.progress.total(name, total)) if show_progress else None,
        )

    def _counting(self, page: ResultPage, name: str, base: int) -> Iterator[bytes]:
        """The page's bytes, reporting approximate progress (lines) as they stream."""
        lines = -1  # the header
        for chunk in page.iter_bytes():
            lines += chunk.count(b"\n")
            self.progress.rows(name, base + max(lines, 0))
            yield chunk

    def _in_windows(
        self,
        name: str,
        soql_for: Callable[[str | None], str],
        since: datetime | None,
        run_job: Callable[[str], None],
    ) -> None:
        """`run_job(soql)` for the records with SystemModstamp >= `since` (all when None).

        A Bulk job Salesforce ends with QUERY_TIMEOUT loaded nothing (pages are read only from
        a completed job), so the window is split in halves at a SystemModstamp and each half
        runs as its own job, recursively. The outermost bounds stay open (records stamped
        before 2000 or after now are still read), so the halves always cover the whole window
        exactly once. A window of MIN_QUERY_WINDOW that still times out fails the object."""
        until = _now().replace(microsecond=0)

        def attempt(low: datetime | None, high: datetime | None, low_at: datetime, high_at: datetime) -> None:
            clauses = [f"{MODSTAMP} >= {salesforce_datetime(low)}"] if low is not None else []
            if high is not None:
                clauses.append(f"{MODSTAMP} < {salesforce_datetime(high)}")
            soql = soql_for(" AND ".join(clauses) or None)
            try:
                run_job(soql)
            except SalesforceRequestError as exc:
                if exc.error_code != "QUERY_TIMEOUT":
                    raise
                if high_at - low_at <= MIN_QUERY_WINDOW:
                    raise QueryTimeoutError(
                        f"Salesforce timed out (QUERY_TIMEOUT) reading {name} even for the window "
                        f"SystemModstamp {salesforce_datetime(low_at)} .. {salesforce_datetime(high_at)} "
                        f"({MIN_QUERY_WINDOW.total_seconds():.0f} s). The object in progress was rolled "
                        "back; ask Salesforce support about the query's selectivity (a custom index or "
                        "skinny table on SystemModstamp), then run again."
                    ) from exc
                middle = (low_at + (high_at - low_at) / 2).replace(microsecond=0)
                log.info(
                    "sync_query_window_split",
                    object=name,
                    start=salesforce_datetime(low_at),
                    end=salesforce_datetime(high_at),
                    split_at=salesforce_datetime(middle),
                )
                attempt(low, middle, low_at, middle)
                attempt(middle, high, middle, high_at)

        attempt(since, None, since or EARLIEST_MODSTAMP, max(until, since or until))

    def _reconcile(self, loader: Loader, resolved: ResolvedObject) -> int:
        """Compare the org's full id set with ours; delete rows whose records were purged."""
        spec = resolved.spec
        loader.create_ids_table()
        select = f"SELECT Id FROM {spec.name}"  # noqa: S608 - SOQL; the object name comes from the specs
        self._in_windows(
            spec.name,
            lambda where: f"{select} WHERE {where}" if where else select,
            None,
            lambda soql: self._bulk_into(loader, resolved, soql, IDS_TABLE, show_progress=False),
        )
        deleted = loader.delete_missing_from_ids()
        log.info("sync_reconciled", object=spec.name, deleted=deleted)
        return deleted

    def _merge(self, loader: Loader, run: _Run, *, into_empty: bool = False) -> None:
        self._count(run, loader.merge(into_empty=into_empty))

    @staticmethod
    def _count(run: _Run, counts: MergeCounts) -> None:
        run.inserted += counts.inserted
        run.updated += counts.updated
        run.deleted += counts.soft_deleted

    def _resolve(
        self, spec: ObjectSpec, state: ObjectState | None, run: _Run, *, fresh: bool
    ) -> ResolvedObject:
        """The object's field list, from a describe at most DESCRIBE_TTL_SECONDS old: this
        process's, else the one saved in sync_state (by any process), else a new one. `fresh`
        (`sync run --full`) always describes anew, and so does a cached describe that lacks a
        field the settings need (granted or configured since)."""
        cached = self._resolved.get(spec.name)
        if not fresh and cached is not None and time.monotonic() - cached[1] < DESCRIBE_TTL_SECONDS:
            return cached[0]
        saved = state.described_fields if state is not None else None
        saved_at = state.described_at if state is not None else None
        if not fresh and saved is not None and saved_at is not None:
            age = (run.started_at - saved_at).total_seconds()
            if 0 <= age < DESCRIBE_TTL_SECONDS:
                try:
                    resolved = resolve(spec, {"fields": saved}, self._settings)
                except SalesforceAccessError:
                    log.info("sync_describe_cache_stale", object=spec.name)
                else:
                    self._resolved[spec.name] = (resolved, time.monotonic() - age)
                    return resolved
        fields = self._describe(spec.name)
        run.described = (fields, run.started_at)
        resolved = resolve(spec, {"fields": fields}, self._settings)
        self._resolved[spec.name] = (resolved, time.monotonic())
        return resolved

    def _describe(self, name: str) -> list[dict[str, Any]]:
        """The object's fields as describe lists them: the name and type of each is all the
        sync uses, and all it keeps."""
        try:
            describe = self.client.describe(name)
        except SalesforceRequestError as exc:
            if exc.error_code == "NOT_FOUND":
                raise SyncError(
                    f"the object {name} is not available to the integration user: give its "
                    "profile or permission set read access (View All for full history)."
                ) from exc
            raise
        return [{"name": f["name"], "type": f.get("type")} for f in describe.get("fields", [])]

    def _try_lock(self, conn: psycopg.Connection[Any], spec: ObjectSpec) -> bool:
        key = f"salescoach.sync:{self.client.org_id}:{spec.name}"
        row = conn.execute("SELECT pg_try_advisory_xact_lock(hashtextextended(%s, 0))", (key,)).fetchone()
        return bool(row and row[0])

    # ------------------------------------------------------------------ outcomes

    @staticmethod
    def _outcome(result: ObjectResult, run: _Run) -> Outcome:
        return Outcome(
            mode=run.mode,
            status=result.status,
            started_at=run.started_at,
            finished_at=_now(),
            inserted=result.inserted,
            updated=result.updated,
            deleted=result.deleted,
            api_calls=result.api_calls,
            error=result.error,
        )

    def _failed(
        self,
        conn: psycopg.Connection[Any],
        spec: ObjectSpec,
        run: _Run | None,
        exc: Exception,
        started: float,
        calls_before: int,
    ) -> ObjectResult:
        status: Status
        if isinstance(exc, QuotaStop):
            status = "stopped"
        elif isinstance(exc, SyncInterrupted):
            status = "interrupted"
        else:
            status = "failed"
        code = exc.code if isinstance(exc, SyncError) else "internal_error"
        message = str(exc) if isinstance(exc, SyncError) else f"{type(exc).__name__}: {exc}"
        if isinstance(exc, SyncError):
            log.warning("sync_object_failed", object=spec.name, status=status, code=code, error=message)
        else:
            log.exception("sync_object_failed", object=spec.name, status=status, code=code)
        result = ObjectResult(
            spec.name,
            run.mode if run else None,
            status,
            api_calls=self.client.api_calls - calls_before,
            seconds=time.perf_counter() - started,
            error=message,
            error_code=code,
        )
        # Access refused (INVALID_FIELD: a field lost since the cached describe; a required field
        # absent from it): the next run describes anew rather than trusting the cache.
        forget_describe = isinstance(exc, SalesforceAccessError)
        if forget_describe:
            self._resolved.pop(spec.name, None)
        if run is not None:
            try:
                with conn.transaction():
                    relax_durability(conn)
                    save_outcome(conn, spec.name, self._outcome(result, run), forget_describe=forget_describe)
            except psycopg.Error:
                log.exception("sync_state_not_saved", object=spec.name)
        return result
