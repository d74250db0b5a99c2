"""The org: CSV folder in, SQLite working copy, queries, writes with Salesforce's side effects.

Loading: each ``Object.csv`` is imported once into an SQLite cache file keyed by the CSV files'
size and mtime; every start copies that cache to a fresh working database, so a restart
without ``--persist`` forgets writes and a 1M-row org starts in seconds.

Storage: booleans as 0/1, dates as ``YYYY-MM-DD``, datetimes as ``YYYY-MM-DDTHH:MM:SS.mmmZ``
text (sortable, and already the Bulk CSV form), numbers as REAL/INTEGER, ids as 18-char text.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

from salescoach_core.sfids import to18
from salescoach_emulator.ids import IdMinter
from salescoach_emulator.schema import (
    ID_TYPES,
    NUMBER_TYPES,
    FieldDef,
    ObjectDef,
    build_object,
    load_fields_json,
)
from salescoach_emulator.soql import (
    CompiledQuery,
    SoqlError,
    compile_query,
    format_datetime,
    parse_datetime_literal,
    quote,
)

log = structlog.get_logger(__name__)

# Bump when the SQLite layout or import rules change, so old caches are ignored.
CACHE_VERSION = 4
SAMPLE_ROWS = 2000
RECYCLE_BIN_DAYS = 15
UPDATED_WINDOW_DAYS = 30
QUERY_LOCATOR_IDLE_SECONDS = 15 * 60

Record = dict[str, Any]


class RecordError(Exception):
    """A write Salesforce would refuse: status, errorCode, message and the fields involved."""

    def __init__(
        self, error_code: str, message: str, *, fields: Sequence[str] = (), status: int = 400
    ) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message
        self.fields = list(fields)
        self.status = status


def now_utc() -> datetime:
    return datetime.now(UTC)


# --------------------------------------------------------------------------- value conversion


def _csv_bool(value: str) -> int | None:
    if value == "":
        return None
    lowered = value.lower()
    if lowered in ("true", "1"):
        return 1
    if lowered in ("false", "0"):
        return 0
    raise ValueError(f"not a boolean: {value!r}")


def _csv_datetime(value: str) -> str | None:
    if value == "":
        return None
    if len(value) == 24 and value[10] == "T" and value[-1] == "Z":
        return value
    return format_datetime(parse_datetime_literal(value))


def _csv_id(value: str) -> str | None:
    if value == "":
        return None
    return value if len(value) == 18 else to18(value)


def _csv_text(value: str) -> str | None:
    return value or None


def _csv_float(value: str) -> float | None:
    return float(value) if value else None


def _csv_int(value: str) -> int | None:
    return int(float(value)) if value else None


def _csv_date(value: str) -> str | None:
    return value[:10] if value else None


_CSV_IN: dict[str, Callable[[str], object]] = {
    "boolean": _csv_bool,
    "datetime": _csv_datetime,
    "date": _csv_date,
    "id": _csv_id,
    "reference": _csv_id,
    "double": _csv_float,
    "currency": _csv_float,
    "percent": _csv_float,
    "int": _csv_int,
}


def sql_type(fdef: FieldDef) -> str:
    if fdef.type in ("boolean", "int"):
        return "INTEGER"
    if fdef.type in NUMBER_TYPES:
        return "REAL"
    return "TEXT"


def json_in(fdef: FieldDef, value: object) -> object:
    """A REST JSON value converted to the stored form, or RecordError as Salesforce would."""
    if value is None or value == "":
        return None
    try:
        if fdef.type == "boolean":
            if isinstance(value, bool):
                return 1 if value else 0
            return _csv_bool(str(value))
        if fdef.type in ("double", "currency", "percent"):
            if isinstance(value, bool):
                raise ValueError("boolean for number")
            return float(value)  # type: ignore[arg-type]
        if fdef.type == "int":
            if isinstance(value, bool):
                raise ValueError("boolean for number")
            return int(float(value))  # type: ignore[arg-type]
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if fdef.type == "date":
            return date.fromisoformat(value[:10]).isoformat()
        if fdef.type == "datetime":
            return format_datetime(parse_datetime_literal(value))
        if fdef.type in ID_TYPES:
            try:
                return to18(value)
            except ValueError:
                raise RecordError(
                    "MALFORMED_ID", f"{fdef.name}: id value of incorrect type: {value}", fields=[fdef.name]
                ) from None
        return value
    except (ValueError, TypeError, SoqlError):
        raise RecordError(
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {fdef.type} from value {value!r} for {fdef.name}",
            fields=[fdef.name],
        ) from None


def json_out(fdef: FieldDef, value: object) -> object:
    """A stored value in REST JSON form (datetimes as ``...000+0000``)."""
    if value is None:
        return None
    if fdef.type == "boolean":
        return bool(value)
    if fdef.type == "datetime":
        return str(value)[:-1] + "+0000"
    return value


def csv_out(fdef: FieldDef, value: object) -> str:
    """A stored value in Salesforce export CSV form."""
    if value is None:
        return ""
    if fdef.type == "boolean":
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


# --------------------------------------------------------------------------- results


@dataclass
class ResultSet:
    """A materialised query result: the ordered row ids in ``rs.<table>``."""

    locator: str
    table: str
    query: CompiledQuery
    total: int
    last_used: float


@dataclass
class QueryPage:
    records: list[Record]
    total: int
    next_locator: str | None


# --------------------------------------------------------------------------- the store


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
        self.objects: dict[str, ObjectDef] = {}
        self._lower: dict[str, str] = {}
        self._headers: dict[str, list[str]] = {}
        self._local = threading.local()
        self._write_lock = threading.RLock()
        self._results: dict[str, ResultSet] = {}
        self._results_lock = threading.Lock()
        self.minter = IdMinter()
        self.last_purge: datetime | None = None
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.state_dir / "org.sqlite"
        self.results_path = self.state_dir / "results.sqlite"
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
    def _csv_files(self) -> list[Path]:
        return sorted(p for p in self.org_dir.glob("*.csv") if p.is_file())

    def _cache_key(self) -> str:
        parts: list[object] = [CACHE_VERSION, str(self.org_dir.resolve())]
        for path in [*self._csv_files(), self.org_dir / "fields.json"]:
            if path.exists():
                stat = path.stat()
                parts.append([path.name, stat.st_size, stat.st_mtime_ns])
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]

    def _load(self) -> None:
        started = time.perf_counter()
        declared = load_fields_json(self.org_dir / "fields.json")
        samples: dict[str, tuple[list[str], list[list[str]]]] = {}
        for path in self._csv_files():
            with path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle)
                header = next(reader, [])
                rows = [row for _, row in zip(range(SAMPLE_ROWS), reader, strict=False)]
            samples[path.stem] = (header, rows)
        for name, (header, rows) in samples.items():
            obj = build_object(name, header, rows, declared.get(name, {}))
            self.objects[name] = obj
            self._headers[name] = header
            self._lower[name.lower()] = name
        cache_dir = self.state_dir / "cache"
        cache_dir.mkdir(exist_ok=True)
        cache = cache_dir / f"org-{self._cache_key()}.sqlite"
        cold = not cache.exists()
        if cold:
            for stale in cache_dir.glob("org-*.sqlite"):
                stale.unlink()
            self._import(cache)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
            Path(f"{self.results_path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(cache, self.db_path)
        connection = self.conn()
        connection.execute(
            "CREATE TABLE IF NOT EXISTS _recycle_bin ("
            " object TEXT NOT NULL, id TEXT NOT NULL, deleted_at TEXT NOT NULL,"
            " PRIMARY KEY (object, id)) WITHOUT ROWID"
        )
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

    def _import(self, cache: Path) -> None:
        tmp = cache.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        connection = sqlite3.connect(tmp, isolation_level=None)
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        load_time = format_datetime(self.clock())
        try:
            connection.execute("BEGIN")
            connection.execute(
                "CREATE TABLE _recycle_bin (object TEXT NOT NULL, id TEXT NOT NULL,"
                " deleted_at TEXT NOT NULL, PRIMARY KEY (object, id)) WITHOUT ROWID"
            )
            # The picklist values found in the CSV files, for describe (a scan at first describe
            # took 2.8 s for a million Tasks).
            connection.execute(
                "CREATE TABLE _picklists (object TEXT NOT NULL, field TEXT NOT NULL, value TEXT NOT NULL,"
                " PRIMARY KEY (object, field, value)) WITHOUT ROWID"
            )
            for name, obj in self.objects.items():
                self._import_object(connection, name, obj)
            # Defaults second: derived fields read other objects (Opportunity needs stages).
            for name, obj in self.objects.items():
                self._fill_defaults(connection, name, obj, load_time)
                self._index(connection, name, obj)
            connection.execute("COMMIT")
        finally:
            connection.close()
        os.replace(tmp, cache)

    def _import_object(self, connection: sqlite3.Connection, name: str, obj: ObjectDef) -> None:
        started = time.perf_counter()
        table = quote(name)
        columns = ", ".join(f"{quote(f.name)} {sql_type(f)}" for f in obj.fields.values())
        connection.execute(f"CREATE TABLE {table} ({columns})")
        header = self._headers[name]
        converters = [_CSV_IN.get(obj.fields[c].type, _csv_text) for c in header]
        marks = ", ".join("?" for _ in header)
        insert = f"INSERT INTO {table} ({', '.join(quote(c) for c in header)}) VALUES ({marks})"  # noqa: S608
        path = self.org_dir / f"{name}.csv"
        picklists = {i: set[str]() for i, c in enumerate(header) if obj.fields[c].type == "picklist"}

        def converted(reader: Iterator[list[str]]) -> Iterator[list[object]]:
            for row in reader:
                for index, seen in picklists.items():
                    seen.add(row[index])
                yield [conv(v) for conv, v in zip(converters, row, strict=True)]

        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            try:
                connection.executemany(insert, converted(reader))
            except ValueError as exc:
                raise ValueError(f"{path.name} line {reader.line_num}: {exc}") from None
        connection.executemany(
            "INSERT INTO _picklists (object, field, value) VALUES (?, ?, ?)",
            [(name, header[i], v) for i, seen in picklists.items() for v in sorted(seen) if v != ""],
        )
        rows = connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # noqa: S608
        log.info(
            "emulator.object_imported",
            object=name,
            rows=rows,
            seconds=round(time.perf_counter() - started, 3),
        )

    def _index(self, connection: sqlite3.Connection, name: str, obj: ObjectDef) -> None:
        table = quote(name)
        connection.execute(f'CREATE UNIQUE INDEX {quote("ix_" + name + "_id")} ON {table} ("Id")')
        connection.execute(f'CREATE INDEX {quote("ix_" + name + "_modstamp")} ON {table} ("SystemModstamp")')
        for fdef in obj.fields.values():
            if fdef.external_id or (name == "OpportunityHistory" and fdef.name == "OpportunityId"):
                connection.execute(
                    f"CREATE INDEX {quote('ix_' + name + '_' + fdef.name)} ON {table} ({quote(fdef.name)})"
                )
        connection.execute(
            "INSERT INTO _recycle_bin (object, id, deleted_at)"  # noqa: S608
            f' SELECT ?, "Id", "SystemModstamp" FROM {table} WHERE "IsDeleted" = 1',
            (name,),
        )

    def _fill_defaults(
        self, connection: sqlite3.Connection, name: str, obj: ObjectDef, load_time: str
    ) -> None:
        """System and derived fields a CSV export may lack, filled the way Salesforce would."""
        table = quote(name)
        missing_ids = connection.execute(
            f'SELECT rowid FROM {table} WHERE "Id" IS NULL'  # noqa: S608
        ).fetchall()
        connection.executemany(
            f'UPDATE {table} SET "Id" = ? WHERE rowid = ?',  # noqa: S608
            [(self.minter.new_id(obj.key_prefix), rowid) for (rowid,) in missing_ids],
        )
        statements = [
            ('"IsDeleted"', "0"),
            ('"CreatedDate"', 'COALESCE("LastModifiedDate", "SystemModstamp", ?)'),
            ('"LastModifiedDate"', '"CreatedDate"'),
            ('"SystemModstamp"', 'COALESCE("LastModifiedDate", "CreatedDate")'),
        ]
        for column, expr in statements:
            params: tuple[str, ...] = (load_time,) if "?" in expr else ()
            connection.execute(
                f"UPDATE {table} SET {column} = {expr} WHERE {column} IS NULL",  # noqa: S608
                params,
            )
        if "Name" in obj.fields and "FirstName" in obj.fields:
            connection.execute(
                f"UPDATE {table} SET \"Name\" = TRIM(COALESCE(\"FirstName\", '') || ' ' ||"  # noqa: S608
                f' COALESCE("LastName", \'\')) WHERE "Name" IS NULL'
            )
        if name == "Task":
            connection.execute(
                'UPDATE "Task" SET "IsClosed" = ("Status" = \'Completed\') WHERE "IsClosed" IS NULL'
            )
        if obj.has_archive:
            # Salesforce archives activities older than a year.
            day_field = "ActivityDate"
            cutoff = (self.clock().date() - timedelta(days=365)).isoformat()
            connection.execute(
                f'UPDATE {table} SET "IsArchived" = COALESCE({quote(day_field)} < ?, 0)'  # noqa: S608
                ' WHERE "IsArchived" IS NULL',
                (cutoff,),
            )
        if name == "Opportunity" and "OpportunityStage" in self.objects:
            for column in ("IsClosed", "IsWon"):
                connection.execute(
                    f'UPDATE "Opportunity" SET {quote(column)} = (SELECT s.{quote(column)}'  # noqa: S608
                    ' FROM "OpportunityStage" s WHERE s."ApiName" = "Opportunity"."StageName"'
                    f' OR s."MasterLabel" = "Opportunity"."StageName") WHERE {quote(column)} IS NULL'
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

    # -- queries
    def compile(self, soql: str) -> CompiledQuery:
        return compile_query(soql, self.get_object, today=self.today())

    @staticmethod
    def scope_sql(cq: CompiledQuery, include_deleted: bool) -> str:
        """``query`` hides deleted rows and archived activities; ``queryAll`` shows both."""
        where = cq.where_sql
        if not include_deleted:
            where = f'({where}) AND t."IsDeleted" = 0'
            if cq.object.has_archive:
                where += ' AND t."IsArchived" = 0'
        return where

    def _select_sql(self, cq: CompiledQuery) -> str:
        hidden = ['t."Id"'] + [f'{j.alias}."Id"' for j in cq.joins.values()]
        return ", ".join([c.sql for c in cq.columns] + hidden)

    def count(self, cq: CompiledQuery, include_deleted: bool) -> int:
        sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM {cq.from_sql}"  # noqa: S608
            f" WHERE {self.scope_sql(cq, include_deleted)} LIMIT ? OFFSET ?)"
        )
        limit = cq.limit if cq.limit is not None else -1
        row = self.conn().execute(sql, [*cq.params, limit, cq.offset or 0]).fetchone()
        return int(row[0])

    def query_page(
        self, cq: CompiledQuery, *, include_deleted: bool, batch_size: int, api_version: str
    ) -> QueryPage:
        """First page of a REST query; materialises the rest behind a locator when needed."""
        if cq.count_only:
            return QueryPage([], self.count(cq, include_deleted), None)
        where = self.scope_sql(cq, include_deleted)
        want = batch_size + 1 if cq.limit is None else min(cq.limit, batch_size + 1)
        sql = (
            f"SELECT {self._select_sql(cq)} FROM {cq.from_sql} WHERE {where}"  # noqa: S608
            f" ORDER BY {cq.order_sql} LIMIT ? OFFSET ?"
        )
        rows = self.conn().execute(sql, [*cq.params, want, cq.offset or 0]).fetchall()
        if len(rows) <= batch_size:
            return QueryPage(self._records(cq, rows, api_version), len(rows), None)
        result = self.materialize(cq, include_deleted=include_deleted, prefix="01g")
        return QueryPage(
            self._records(cq, rows[:batch_size], api_version),
            result.total,
            f"{result.locator}-{batch_size}",
        )

    def query_more(self, locator: str, *, batch_size: int, api_version: str) -> QueryPage:
        """A later page: ``locator`` is ``<query locator>-<rows already returned>``."""
        ident, _, position = locator.rpartition("-")
        result = self._results.get(ident)
        if result is None or not position.isdigit():
            raise RecordError("INVALID_QUERY_LOCATOR", "invalid query locator", status=400)
        start = int(position)
        rows = self.read_result(result, start, batch_size)
        end = start + len(rows)
        records = self._records(result.query, rows, api_version)
        if end >= result.total:
            self.drop_result(ident)
            return QueryPage(records, result.total, None)
        return QueryPage(records, result.total, f"{ident}-{end}")

    def materialize(
        self,
        cq: CompiledQuery,
        *,
        include_deleted: bool,
        prefix: str,
        id_range: tuple[str | None, str | None] | None = None,
    ) -> ResultSet:
        """Store the ordered row ids of a query, so pages are cheap and stable.

        ``id_range`` = [low, high) of ``Id`` (None = open), for a PK-chunked Bulk batch.
        """
        self._expire_results()
        locator = prefix + secrets.token_hex(8)[:15]
        table = f"r_{locator}"
        where = self.scope_sql(cq, include_deleted)
        params = list(cq.params)
        for bound, op in zip(id_range or (), (">=", "<"), strict=False):
            if bound is not None:
                where += f' AND t."Id" {op} ?'
                params.append(bound)
        limit = cq.limit if cq.limit is not None else -1
        connection = self.conn()
        connection.execute(f"CREATE TABLE rs.{table} (seq INTEGER PRIMARY KEY, rid INTEGER NOT NULL)")
        cursor = connection.execute(
            f"INSERT INTO rs.{table} (rid) SELECT t.rowid FROM {cq.from_sql}"  # noqa: S608
            f" WHERE {where} ORDER BY {cq.order_sql} LIMIT ? OFFSET ?",
            [*params, limit, cq.offset or 0],
        )
        result = ResultSet(locator, table, cq, cursor.rowcount, time.monotonic())
        with self._results_lock:
            self._results[locator] = result
        return result

    def get_result(self, locator: str) -> ResultSet | None:
        result = self._results.get(locator)
        if result is not None:
            result.last_used = time.monotonic()
        return result

    def drop_result(self, locator: str) -> None:
        with self._results_lock:
            result = self._results.pop(locator, None)
        if result is not None:
            self.conn().execute(f"DROP TABLE IF EXISTS rs.{result.table}")

    def _expire_results(self) -> None:
        # Bulk job results live until the job is deleted; REST locators expire when idle.
        cutoff = time.monotonic() - QUERY_LOCATOR_IDLE_SECONDS
        stale = [k for k, r in self._results.items() if k.startswith("01g") and r.last_used < cutoff]
        for locator in stale:
            self.drop_result(locator)

    def _page_sql(self, result: ResultSet, select: str) -> str:
        return (
            f"SELECT {select} FROM rs.{result.table} AS r CROSS JOIN {result.query.from_sql}"  # noqa: S608
            " WHERE t.rowid = r.rid AND r.seq > ? AND r.seq <= ? ORDER BY r.seq"
        )

    def read_result(self, result: ResultSet, start: int, count: int) -> list[tuple[Any, ...]]:
        result.last_used = time.monotonic()
        sql = self._page_sql(result, self._select_sql(result.query))
        return self.conn().execute(sql, (start, start + count)).fetchall()

    def id_boundaries(self, object_name: str, chunk_size: int, start_row: str | None = None) -> list[str]:
        """The Ids that start each chunk of ``chunk_size`` rows in Id order (deleted rows
        included, as Salesforce's PK chunking counts them), from ``start_row`` on."""
        obj = self.require_object(object_name)
        sql = (
            'SELECT "Id" FROM (SELECT "Id", row_number() OVER (ORDER BY "Id") AS n'  # noqa: S608
            f' FROM {quote(obj.name)} WHERE "Id" >= ?) WHERE (n - 1) % ? = 0 ORDER BY "Id"'
        )
        return [str(row[0]) for row in self.conn().execute(sql, (start_row or "", chunk_size))]

    def stream_csv(
        self,
        result: ResultSet,
        start: int,
        count: int,
        *,
        chunk_rows: int = 5000,
        quote_all: bool = False,
    ) -> Iterator[bytes]:
        """CSV bytes of rows (start, start+count] in chunks; memory stays flat.

        ``quote_all`` quotes every value, as Bulk API 1.0 writes its CSV.
        """
        result.last_used = time.monotonic()
        exprs = []
        for col in result.query.columns:
            if col.field.type == "boolean":
                exprs.append(f"CASE {col.sql} WHEN 1 THEN 'true' WHEN 0 THEN 'false' END")
            else:
                exprs.append(col.sql)
        sql = self._page_sql(result, ", ".join(exprs))
        connection = self.new_connection()
        try:
            buffer = io.StringIO()
            writer = csv.writer(
                buffer, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL
            )
            writer.writerow([c.label for c in result.query.columns])
            cursor = connection.execute(sql, (start, start + count))
            while True:
                rows = cursor.fetchmany(chunk_rows)
                if rows:
                    writer.writerows(rows)
                chunk = buffer.getvalue()
                if chunk:
                    yield chunk.encode()
                    buffer.seek(0)
                    buffer.truncate()
                if not rows:
                    break
        finally:
            connection.close()

    def records(self, cq: CompiledQuery, rows: list[tuple[Any, ...]], api_version: str) -> list[Record]:
        """REST JSON records (with ``attributes`` and nested parents) of rows read for ``cq``."""
        return self._records(cq, rows, api_version)

    def _records(self, cq: CompiledQuery, rows: list[tuple[Any, ...]], api_version: str) -> list[Record]:
        ncols = len(cq.columns)
        join_index = {chain: ncols + 1 + i for i, chain in enumerate(cq.joins)}
        records = []
        for row in rows:
            record: Record = {"attributes": self.attributes(cq.object.name, row[ncols], api_version)}
            for i, col in enumerate(cq.columns):
                target = record
                dead_parent = False
                for depth in range(1, len(col.relationship) + 1):
                    chain = col.relationship[:depth]
                    key = chain[-1]
                    parent_id = row[join_index[chain]]
                    if parent_id is None:
                        target[key] = None
                        dead_parent = True
                        break
                    if target.get(key) is None:
                        join = cq.joins[chain]
                        target[key] = {
                            "attributes": self.attributes(join.object.name, parent_id, api_version)
                        }
                    target = target[key]
                if not dead_parent:
                    target[col.field.name] = json_out(col.field, row[i])
            records.append(record)
        return records

    @staticmethod
    def attributes(object_name: str, record_id: object, api_version: str) -> dict[str, str]:
        return {
            "type": object_name,
            "url": f"/services/data/v{api_version}/sobjects/{object_name}/{record_id}",
        }

    # -- single records
    def _row(self, obj: ObjectDef, record_id: str, *, include_deleted: bool = False) -> Record | None:
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
        stored = self._row(obj, record_id)
        if stored is None:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
        return self._json_record(obj, stored, fields, api_version)

    def _json_record(
        self, obj: ObjectDef, stored: Record, fields: list[str] | None, api_version: str
    ) -> Record:
        record: Record = {"attributes": self.attributes(obj.name, stored["Id"], api_version)}
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

    # -- writes
    def _converted(self, obj: ObjectDef, data: Record, *, creating: bool) -> Record:
        values: Record = {}
        unknown = []
        for key, raw in data.items():
            if key == "attributes":
                continue
            fdef = obj.field_ci(key)
            if fdef is None:
                unknown.append(key)
                continue
            allowed = fdef.createable if creating else fdef.updateable
            if not allowed:
                if fdef.name == "Id" and not creating:
                    continue
                raise RecordError(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"Unable to create/update fields: {fdef.name}. Please check the security "
                    f"settings of this field and verify that it is read/write for your profile "
                    f"or permission set.",
                    fields=[fdef.name],
                )
            values[fdef.name] = json_in(fdef, raw)
        if unknown:
            raise RecordError("INVALID_FIELD", f"No such column '{unknown[0]}' on sobject of type {obj.name}")
        return values

    def _check_references(self, obj: ObjectDef, values: Record) -> None:
        for name, value in values.items():
            fdef = obj.fields[name]
            if fdef.type != "reference" or value is None:
                continue
            targets = [self.objects[t] for t in fdef.reference_to if t in self.objects]
            if not targets:
                continue
            for target in targets:
                if target.key_prefix == str(value)[:3]:
                    found = (
                        self.conn()
                        .execute(
                            f'SELECT 1 FROM {quote(target.name)} WHERE "Id" = ? AND "IsDeleted" = 0',  # noqa: S608
                            (value,),
                        )
                        .fetchone()
                    )
                    if found:
                        break
            else:
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY",
                    f"invalid cross reference id: {value}",
                    fields=[name],
                )

    def _check_unique(self, obj: ObjectDef, values: Record, own_id: str | None) -> None:
        for name, value in values.items():
            fdef = obj.fields[name]
            if value is None or not fdef.unique:
                continue
            clash = (
                self.conn()
                .execute(
                    f'SELECT "Id" FROM {quote(obj.name)} WHERE {quote(name)} = ? AND "Id" IS NOT ?',  # noqa: S608
                    (value, own_id),
                )
                .fetchone()
            )
            if clash:
                raise RecordError(
                    "DUPLICATE_VALUE",
                    f"duplicate value found: {name} duplicates value on record with id: {clash[0]}",
                    fields=[name],
                )

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

    def _stage(self, stage_name: str) -> Record | None:
        if "OpportunityStage" not in self.objects:
            return None
        cursor = self.conn().execute(
            'SELECT "IsClosed", "IsWon", "DefaultProbability", "ForecastCategoryName"'
            ' FROM "OpportunityStage" WHERE "ApiName" = ? OR "MasterLabel" = ? LIMIT 1',
            (stage_name, stage_name),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        return {"IsClosed": row[0], "IsWon": row[1], "Probability": row[2], "Forecast": row[3]}

    def _derive(self, obj: ObjectDef, values: Record, before: Record | None, stamp: str) -> None:
        """Fields Salesforce computes from others on save."""
        merged = {**(before or {}), **values}
        if obj.name == "Opportunity" and "StageName" in values and values["StageName"]:
            stage = self._stage(str(values["StageName"]))
            if stage is None and "OpportunityStage" in self.objects:
                raise RecordError(
                    "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                    f"Stage: bad value for restricted picklist field: {values['StageName']}",
                    fields=["StageName"],
                )
            if stage is not None:
                values["IsClosed"] = stage["IsClosed"]
                values["IsWon"] = stage["IsWon"]
                values["ForecastCategoryName"] = stage["Forecast"]
                if "Probability" not in values:
                    values["Probability"] = stage["Probability"]
        if obj.name == "Task":
            if before is None:
                values.setdefault("Status", "Not Started")
                values.setdefault("Priority", "Normal")
                values["IsArchived"] = 0
            closed = 1 if merged.get("Status", values.get("Status")) == "Completed" else 0
            values["IsClosed"] = closed
            if closed and not merged.get("CompletedDateTime"):
                values["CompletedDateTime"] = stamp
            if not closed:
                values["CompletedDateTime"] = None
        if obj.name == "Event" and before is None:
            values["IsArchived"] = 0
        if (
            "Name" in obj.fields
            and "FirstName" in obj.fields
            and ("FirstName" in values or "LastName" in values)
        ):
            first, last = merged.get("FirstName") or "", merged.get("LastName") or ""
            values["Name"] = f"{first} {last}".strip()
        if "OwnerId" in obj.fields and before is None and values.get("OwnerId") is None:
            values["OwnerId"] = self.user_id

    def _write_history(self, opportunity: Record, stamp: str) -> None:
        if "OpportunityHistory" not in self.objects:
            return
        row = {
            "Id": self.minter.new_id(self.objects["OpportunityHistory"].key_prefix),
            "OpportunityId": opportunity["Id"],
            "StageName": opportunity.get("StageName"),
            "Amount": opportunity.get("Amount"),
            "CloseDate": opportunity.get("CloseDate"),
            "Probability": opportunity.get("Probability"),
            "ForecastCategory": opportunity.get("ForecastCategoryName"),
            "IsDeleted": 0,
            "CreatedDate": stamp,
            "CreatedById": self.user_id,
            "LastModifiedDate": stamp,
            "LastModifiedById": self.user_id,
            "SystemModstamp": stamp,
        }
        self._insert_row(self.objects["OpportunityHistory"], row)

    def _insert_row(self, obj: ObjectDef, row: Record) -> None:
        columns = [c for c in row if c in obj.fields]
        self.conn().execute(
            f"INSERT INTO {quote(obj.name)} ({', '.join(quote(c) for c in columns)})"  # noqa: S608
            f" VALUES ({', '.join('?' for _ in columns)})",
            [row[c] for c in columns],
        )

    def create(self, object_name: str, data: Record) -> str:
        """Insert a record; returns its new id. Caller holds ``transaction()``."""
        obj = self.require_object(object_name)
        if not obj.createable:
            raise RecordError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support insert")
        values = self._converted(obj, data, creating=True)
        missing = [f for f in obj.required_on_create if values.get(f) is None]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                fields=missing,
            )
        stamp = self.stamp()
        self._derive(obj, values, None, stamp)
        self._check_references(obj, values)
        self._check_unique(obj, values, None)
        record_id = self.minter.new_id(obj.key_prefix)
        row = {
            "Id": record_id,
            "IsDeleted": 0,
            "CreatedDate": stamp,
            "CreatedById": self.user_id,
            "LastModifiedDate": stamp,
            "LastModifiedById": self.user_id,
            "SystemModstamp": stamp,
            **values,
        }
        self._insert_row(obj, row)
        if obj.name == "Opportunity":
            self._write_history(row, stamp)
        return record_id

    def update(self, object_name: str, record_id: str, data: Record) -> str:
        obj = self.require_object(object_name)
        if not obj.updateable:
            raise RecordError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support update")
        before = self._row(obj, record_id)
        if before is None:
            raise RecordError(
                "ENTITY_IS_DELETED" if self._row(obj, record_id, include_deleted=True) else "NOT_FOUND",
                "entity is deleted"
                if self._row(obj, record_id, include_deleted=True)
                else "The requested resource does not exist",
                status=404,
            )
        values = self._converted(obj, data, creating=False)
        stamp = self.stamp()
        self._derive(obj, values, before, stamp)
        self._check_references(obj, values)
        self._check_unique(obj, values, str(before["Id"]))
        values.update(LastModifiedDate=stamp, LastModifiedById=self.user_id, SystemModstamp=stamp)
        assignments = ", ".join(f"{quote(c)} = ?" for c in values)
        self.conn().execute(
            f'UPDATE {quote(obj.name)} SET {assignments} WHERE "Id" = ?',  # noqa: S608
            [*values.values(), before["Id"]],
        )
        if obj.name == "Opportunity":
            tracked = ("StageName", "Amount", "CloseDate", "Probability")
            if any(k in values and values[k] != before.get(k) for k in tracked):
                self._write_history({**before, **values}, stamp)
        return str(before["Id"])

    def upsert(self, object_name: str, field_name: str, value: str, data: Record) -> tuple[str, bool]:
        """Create or update by external id; returns (id, created)."""
        obj = self.require_object(object_name)
        ids = self.find_by_field(object_name, field_name, value)
        if len(ids) > 1:
            raise RecordError(
                "MULTIPLE_CHOICES",
                f"More than one record found for external id field {field_name}: {ids}",
                status=300,
            )
        fdef = obj.field_ci(field_name)
        assert fdef is not None
        body = {k: v for k, v in data.items() if k.lower() != fdef.name.lower()}
        if ids:
            return self.update(object_name, ids[0], body), False
        if fdef.name != "Id":
            body[fdef.name] = value
        return self.create(object_name, body), True

    def delete(self, object_name: str, record_id: str) -> str:
        """Soft delete to the recycle bin, as Salesforce does."""
        obj = self.require_object(object_name)
        if not obj.deletable:
            raise RecordError("INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support delete")
        stored = self._row(obj, record_id, include_deleted=True)
        if stored is None:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
        if stored["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", status=404)
        stamp = self.stamp()
        self.conn().execute(
            f'UPDATE {quote(obj.name)} SET "IsDeleted" = 1, "SystemModstamp" = ?,'  # noqa: S608
            ' "LastModifiedDate" = ?, "LastModifiedById" = ? WHERE "Id" = ?',
            (stamp, stamp, self.user_id, stored["Id"]),
        )
        self.conn().execute(
            "INSERT OR REPLACE INTO _recycle_bin (object, id, deleted_at) VALUES (?, ?, ?)",
            (obj.name, stored["Id"], stamp),
        )
        return str(stored["Id"])

    def transaction(self) -> _Transaction:
        return _Transaction(self)

    def seed(self, object_name: str, records: list[Record]) -> list[str]:
        """Admin: insert or replace raw records, system fields included (for tests)."""
        obj = self.require_object(object_name)
        stamp = self.stamp()
        ids = []
        with self.transaction():
            for data in records:
                values: Record = {}
                for key, raw in data.items():
                    fdef = obj.field_ci(key)
                    if fdef is None:
                        raise RecordError("INVALID_FIELD", f"No such column '{key}' on {obj.name}")
                    values[fdef.name] = json_in(fdef, raw)
                record_id = values.get("Id") or self.minter.new_id(obj.key_prefix)
                values["Id"] = record_id
                for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                    values.setdefault(name, stamp)
                values.setdefault("IsDeleted", 0)
                if obj.has_archive:
                    values.setdefault("IsArchived", 0)
                self.conn().execute(
                    f'DELETE FROM {quote(obj.name)} WHERE "Id" = ?',  # noqa: S608
                    (record_id,),
                )
                self._insert_row(obj, values)
                if values["IsDeleted"]:
                    self.conn().execute(
                        "INSERT OR REPLACE INTO _recycle_bin VALUES (?, ?, ?)",
                        (obj.name, record_id, values["SystemModstamp"]),
                    )
                ids.append(str(record_id))
        return ids

    def purge_recycle_bin(self, object_names: list[str] | None = None) -> int:
        """Hard-delete recycled records: they vanish from queryAll and ``deleted``."""
        names = object_names or list(self.objects)
        purged = 0
        with self.transaction():
            for name in names:
                obj = self.require_object(name)
                cursor = self.conn().execute(
                    f'DELETE FROM {quote(obj.name)} WHERE "IsDeleted" = 1'  # noqa: S608
                )
                purged += cursor.rowcount
                self.conn().execute("DELETE FROM _recycle_bin WHERE object = ?", (obj.name,))
            self.last_purge = self.clock()
        return purged

    # -- replication
    def deleted(self, object_name: str, start: datetime, end: datetime) -> Record:
        obj = self.require_object(object_name)
        now = self.clock()
        self._check_window(start, end, now, RECYCLE_BIN_DAYS)
        latest = min(end, now).replace(second=0, microsecond=0)
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
            "earliestDateAvailable": format_datetime(earliest)[:-1] + "+0000",
            "latestDateCovered": format_datetime(latest)[:-1] + "+0000",
        }

    def updated(self, object_name: str, start: datetime, end: datetime) -> Record:
        obj = self.require_object(object_name)
        now = self.clock()
        self._check_window(start, end, now, UPDATED_WINDOW_DAYS)
        latest = min(end, now).replace(second=0, microsecond=0)
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
            "latestDateCovered": format_datetime(latest)[:-1] + "+0000",
        }

    @staticmethod
    def _check_window(start: datetime, end: datetime, now: datetime, days: int) -> None:
        if end < start:
            raise RecordError("INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate")
        if start < now - timedelta(days=days):
            raise RecordError(
                "INVALID_REPLICATION_DATE",
                f"startDate cannot be more than {days} days ago",
            )

    # -- persistence
    def persist(self) -> None:
        """Write every object back to its CSV (atomically per file)."""
        connection = self.new_connection()
        try:
            for name, obj in self.objects.items():
                header = list(self._headers.get(name, []))
                header += [f for f in obj.fields if f not in header]
                fdefs = [obj.fields[f] for f in header]
                path = self.org_dir / f"{name}.csv"
                tmp = path.with_suffix(".csv.tmp")
                cursor = connection.execute(
                    f"SELECT {', '.join(quote(f) for f in header)} FROM {quote(name)} ORDER BY rowid"  # noqa: S608
                )
                with tmp.open("w", newline="", encoding="utf-8") as handle:
                    writer = csv.writer(handle, lineterminator="\n")
                    writer.writerow(header)
                    while rows := cursor.fetchmany(5000):
                        writer.writerows(
                            [csv_out(f, v) for f, v in zip(fdefs, row, strict=True)] for row in rows
                        )
                os.replace(tmp, path)
        finally:
            connection.close()
        log.info("emulator.org_persisted", org_dir=str(self.org_dir))

    def close(self) -> None:
        connection: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if connection is not None:
            connection.close()
            self._local.conn = None


class _Transaction:
    """One write transaction under the store's write lock; nested use makes savepoints."""

    def __init__(self, store: OrgStore) -> None:
        self.store = store
        self.savepoint = f"sp_{secrets.token_hex(4)}"
        self.nested = False

    def __enter__(self) -> _Transaction:
        self.store._write_lock.acquire()
        connection = self.store.conn()
        self.nested = connection.in_transaction
        if self.nested:
            connection.execute(f"SAVEPOINT {self.savepoint}")
        else:
            connection.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        connection = self.store.conn()
        try:
            if self.nested:
                if exc_type is not None:
                    connection.execute(f"ROLLBACK TO {self.savepoint}")
                connection.execute(f"RELEASE {self.savepoint}")
            elif exc_type is None:
                connection.execute("COMMIT")
            else:
                connection.execute("ROLLBACK")
        finally:
            self.store._write_lock.release()
