"""The org: a CSV folder's SQLite working copy, its metadata, single-record reads and the
replication calls (``deleted``, ``updated``). Queries live in ``results``, writes in ``writes``.

Every start copies the folder's import cache (``csvfiles``) to a fresh working database, so a
restart without ``--persist`` forgets writes and a 1M-row org starts in seconds.
"""

from __future__ import annotations

import shutil
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import structlog

from salescoach_core.sfids import to18
from salescoach_emulator.ids import IdMinter
from salescoach_emulator.schema import ObjectDef
from salescoach_emulator.soql import CompiledQuery, compile_query, format_datetime, quote
from salescoach_emulator.store.codecs import Record, json_in, json_out, record_attributes, rest_datetime
from salescoach_emulator.store.csvfiles import RECYCLE_BIN_TABLE, OrgFolder
from salescoach_emulator.store.errors import RecordError
from salescoach_emulator.store.results import ResultSets
from salescoach_emulator.store.writes import Writes

log = structlog.get_logger(__name__)

RECYCLE_BIN_DAYS = 15
UPDATED_WINDOW_DAYS = 30


def now_utc() -> datetime:
    return datetime.now(UTC)


class OrgStore:
    """One org, loaded from a CSV folder into SQLite; thread-safe."""

    def __init__(
        self,
        org_dir: Path,
        state_dir: Path,
        *,
        clock: Callable[[], datetime] = now_utc,
        user_id: str | None = None,
    ) -> None:
        self.org_dir = Path(org_dir)
        self.state_dir = Path(state_dir)
        self.clock = clock
        self._local = threading.local()
        self.minter = IdMinter()
        self.last_purge: datetime | None = None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.state_dir / "org.sqlite"
        self.results_path = self.state_dir / "results.sqlite"
        self.folder = OrgFolder(self.org_dir)
        self.objects: dict[str, ObjectDef] = self.folder.objects
        self._lower = {name.lower(): name for name in self.objects}
        self.results = ResultSets(self)
        self.writes = Writes(self)
        self._load()
        self.user_id = user_id or self._default_user_id()

    # -- connections
    def conn(self) -> sqlite3.Connection:
        """This thread's connection (SQLite connections must not be shared across threads)."""
        connection: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if connection is None:
            connection = self._connect()
            self._local.conn = connection
        return connection

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.db_path, isolation_level=None, check_same_thread=False, timeout=60)
        # The working copy is disposable (the CSV folder is the source of truth), so durability
        # is traded for speed.
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("PRAGMA cache_size=-65536")
        connection.execute("ATTACH DATABASE ? AS rs", (str(self.results_path),))
        connection.execute("PRAGMA rs.journal_mode=WAL")
        connection.execute("PRAGMA rs.synchronous=OFF")
        return connection

    def new_connection(self) -> sqlite3.Connection:
        """A private connection for a long-running stream; the caller closes it.

        A small page cache: a stream reads each page once, so cache only costs memory.
        """
        connection = self._connect()
        connection.execute("PRAGMA cache_size=-4096")
        return connection

    # -- loading
    def _load(self) -> None:
        started = time.perf_counter()
        cache, cold = self.folder.cached_import(
            self.state_dir / "cache", minter=self.minter, clock=self.clock
        )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
            Path(f"{self.results_path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(cache, self.db_path)
        connection = self.conn()
        connection.execute(RECYCLE_BIN_TABLE)
        for name, obj in self.objects.items():
            table = quote(name)
            highest = connection.execute(
                f'SELECT max("Id") FROM {table} WHERE "Id" LIKE ?',  # noqa: S608
                (obj.key_prefix + IdMinter.POD + "%",),
            ).fetchone()[0]
            self.minter.seed(obj.key_prefix, highest)
        log.info(
            "emulator.org_loaded",
            org_dir=str(self.org_dir),
            objects=len(self.objects),
            cold_import=cold,
            seconds=round(time.perf_counter() - started, 3),
        )

    def _default_user_id(self) -> str:
        if "User" not in self.objects:
            return self.minter.new_id("005")
        row = (
            self.conn()
            .execute(
                'SELECT "Id" FROM "User" WHERE "IsActive" = 1 AND "IsDeleted" = 0'
                ' ORDER BY "ManagerId" IS NOT NULL, rowid LIMIT 1'
            )
            .fetchone()
        )
        return str(row[0]) if row else self.minter.new_id("005")

    # -- metadata
    def get_object(self, name: str) -> ObjectDef | None:
        canonical = self._lower.get(name.lower())
        return self.objects[canonical] if canonical else None

    def require_object(self, name: str) -> ObjectDef:
        obj = self.get_object(name)
        if obj is None:
            raise RecordError(
                "NOT_FOUND", f"The requested resource does not exist: sObject type '{name}'", status=404
            )
        return obj

    def today(self) -> date:
        return self.clock().date()

    def stamp(self) -> str:
        return format_datetime(self.clock())

    def compile(self, soql: str) -> CompiledQuery:
        return compile_query(soql, self.get_object, today=self.today())

    def csv_picklist_values(self, object_name: str, field_name: str) -> list[str]:
        """The values a picklist field has in the org's CSV file, sorted."""
        rows = self.conn().execute(
            "SELECT value FROM _picklists WHERE object = ? AND field = ? ORDER BY value",
            (object_name, field_name),
        )
        return [str(row[0]) for row in rows]

    def stage_names(self) -> list[str]:
        """The opportunity stages' API names in sort order (empty without OpportunityStage)."""
        if "OpportunityStage" not in self.objects:
            return []
        rows = self.conn().execute(
            'SELECT "ApiName" FROM "OpportunityStage" WHERE "IsDeleted" = 0 ORDER BY "SortOrder", "ApiName"'
        )
        return [str(row[0]) for row in rows if row[0] is not None]

    def id_boundaries(self, object_name: str, chunk_size: int, start_row: str | None = None) -> list[str]:
        """The Ids that start each chunk of ``chunk_size`` rows in Id order (deleted rows
        included, as Salesforce's PK chunking counts them), from ``start_row`` on."""
        obj = self.require_object(object_name)
        sql = (
            'SELECT "Id" FROM (SELECT "Id", row_number() OVER (ORDER BY "Id") AS n'  # noqa: S608
            f' FROM {quote(obj.name)} WHERE "Id" >= ?) WHERE (n - 1) % ? = 0 ORDER BY "Id"'
        )
        return [str(row[0]) for row in self.conn().execute(sql, (start_row or "", chunk_size))]

    # -- single records
    def row(self, obj: ObjectDef, record_id: str, *, include_deleted: bool = False) -> Record | None:
        """A record's stored row by 15- or 18-char id; None when absent (or deleted, unless asked)."""
        try:
            normalised = to18(record_id)
        except ValueError:
            return None
        cursor = self.conn().execute(
            f'SELECT * FROM {quote(obj.name)} WHERE "Id" = ?',  # noqa: S608
            (normalised,),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        names = [d[0] for d in cursor.description]
        stored = dict(zip(names, row, strict=True))
        if stored["IsDeleted"] and not include_deleted:
            return None
        return stored

    def get_record(
        self, object_name: str, record_id: str, *, fields: list[str] | None, api_version: str
    ) -> Record:
        obj = self.require_object(object_name)
        stored = self.row(obj, record_id)
        if stored is None:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
        return self._json_record(obj, stored, fields, api_version)

    @staticmethod
    def _json_record(obj: ObjectDef, stored: Record, fields: list[str] | None, api_version: str) -> Record:
        record: Record = {"attributes": record_attributes(obj.name, stored["Id"], api_version)}
        wanted = list(obj.fields.values())
        if fields:
            wanted = []
            for name in fields:
                fdef = obj.field_ci(name.strip())
                if fdef is None:
                    raise RecordError(
                        "INVALID_FIELD",
                        f"No such column '{name}' on sobject of type {obj.name}",
                    )
                wanted.append(fdef)
        for fdef in wanted:
            record[fdef.name] = json_out(fdef, stored.get(fdef.name))
        return record

    def find_by_field(self, object_name: str, field_name: str, value: str) -> list[str]:
        """Ids of live records whose ``field_name`` equals ``value`` (external-id lookups)."""
        obj = self.require_object(object_name)
        fdef = obj.field_ci(field_name)
        if fdef is None or not (fdef.external_id or fdef.name == "Id"):
            raise RecordError(
                "NOT_FOUND",
                f"Provided external ID field does not exist or is not accessible: {field_name}",
                status=404,
            )
        stored = json_in(fdef, value)
        rows = (
            self.conn()
            .execute(
                f'SELECT "Id" FROM {quote(obj.name)} WHERE {quote(fdef.name)} = ? AND "IsDeleted" = 0',  # noqa: S608
                (stored,),
            )
            .fetchall()
        )
        return [str(r[0]) for r in rows]

    def get_record_by_field(
        self, object_name: str, field_name: str, value: str, *, api_version: str
    ) -> Record:
        ids = self.find_by_field(object_name, field_name, value)
        if not ids:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
        if len(ids) > 1:
            raise RecordError("MULTIPLE_CHOICES", f"More than one record found for {field_name}", status=300)
        return self.get_record(object_name, ids[0], fields=None, api_version=api_version)

    # -- replication
    def deleted(self, object_name: str, start: datetime, end: datetime) -> Record:
        obj = self.require_object(object_name)
        now = self.clock()
        latest = self._window(start, end, now, RECYCLE_BIN_DAYS)
        rows = (
            self.conn()
            .execute(
                "SELECT id, deleted_at FROM _recycle_bin WHERE object = ? AND deleted_at >= ?"
                " AND deleted_at < ? ORDER BY deleted_at, id",
                (obj.name, format_datetime(start), format_datetime(latest + timedelta(minutes=1))),
            )
            .fetchall()
        )
        earliest = now - timedelta(days=RECYCLE_BIN_DAYS)
        if self.last_purge is not None and self.last_purge > earliest:
            earliest = self.last_purge
        return {
            "deletedRecords": [{"id": r[0], "deletedDate": str(r[1])[:-1] + "+0000"} for r in rows],
            "earliestDateAvailable": rest_datetime(earliest),
            "latestDateCovered": rest_datetime(latest),
        }

    def updated(self, object_name: str, start: datetime, end: datetime) -> Record:
        obj = self.require_object(object_name)
        latest = self._window(start, end, self.clock(), UPDATED_WINDOW_DAYS)
        rows = (
            self.conn()
            .execute(
                f'SELECT "Id" FROM {quote(obj.name)} WHERE "IsDeleted" = 0'  # noqa: S608
                ' AND "SystemModstamp" >= ? AND "SystemModstamp" < ? ORDER BY "Id"',
                (format_datetime(start), format_datetime(latest + timedelta(minutes=1))),
            )
            .fetchall()
        )
        return {
            "ids": [r[0] for r in rows],
            "latestDateCovered": rest_datetime(latest),
        }

    @staticmethod
    def _window(start: datetime, end: datetime, now: datetime, days: int) -> datetime:
        """Refuse a window Salesforce would refuse; returns the last minute it covers."""
        if end < start:
            raise RecordError("INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate")
        if start < now - timedelta(days=days):
            raise RecordError(
                "INVALID_REPLICATION_DATE",
                f"startDate cannot be more than {days} days ago",
            )
        return min(end, now).replace(second=0, microsecond=0)

    # -- persistence
    def persist(self) -> None:
        """Write every object back to its CSV (atomically per file)."""
        connection = self.new_connection()
        try:
            self.folder.write_back(connection)
        finally:
            connection.close()
        log.info("emulator.org_persisted", org_dir=str(self.org_dir))

    def close(self) -> None:
        connection: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if connection is not None:
            connection.close()
            self._local.conn = None
