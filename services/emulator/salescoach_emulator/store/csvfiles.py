"""The org's CSV folder: the objects its files define, the SQLite cache imported from them (keyed
by the files' size and mtime), and the files written back from a working copy (``--persist``)."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from salescoach_emulator.ids import IdMinter
from salescoach_emulator.schema import ObjectDef, build_object, load_fields_json
from salescoach_emulator.soql import format_datetime, quote
from salescoach_emulator.store.codecs import CSV_IN, csv_out, csv_text, sql_type

log = structlog.get_logger(__name__)

# Bump when the SQLite layout or import rules change, so old caches are ignored.
CACHE_VERSION = 4
SAMPLE_ROWS = 2000

RECYCLE_BIN_TABLE = (
    "CREATE TABLE IF NOT EXISTS _recycle_bin (object TEXT NOT NULL, id TEXT NOT NULL,"
    " deleted_at TEXT NOT NULL, PRIMARY KEY (object, id)) WITHOUT ROWID"
)


class OrgFolder:
    """One org folder; its object definitions are typed from the headers and a sample of rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.objects: dict[str, ObjectDef] = {}
        self.headers: dict[str, list[str]] = {}
        declared = load_fields_json(path / "fields.json")
        samples: dict[str, tuple[list[str], list[list[str]]]] = {}
        for csv_path in self._csv_files():
            with csv_path.open(newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle)
                header = next(reader, [])
                rows = [row for _, row in zip(range(SAMPLE_ROWS), reader, strict=False)]
            samples[csv_path.stem] = (header, rows)
        for name, (header, rows) in samples.items():
            self.objects[name] = build_object(name, header, rows, declared.get(name, {}))
            self.headers[name] = header

    def _csv_files(self) -> list[Path]:
        return sorted(p for p in self.path.glob("*.csv") if p.is_file())

    def _cache_key(self) -> str:
        parts: list[object] = [CACHE_VERSION, str(self.path.resolve())]
        for path in [*self._csv_files(), self.path / "fields.json"]:
            if path.exists():
                stat = path.stat()
                parts.append([path.name, stat.st_size, stat.st_mtime_ns])
        return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]

    # -- import
    def cached_import(
        self, cache_dir: Path, *, minter: IdMinter, clock: Callable[[], datetime]
    ) -> tuple[Path, bool]:
        """The SQLite import of the folder, built unless cached; returns (file, built now)."""
        cache_dir.mkdir(exist_ok=True)
        cache = cache_dir / f"org-{self._cache_key()}.sqlite"
        cold = not cache.exists()
        if cold:
            for stale in cache_dir.glob("org-*.sqlite"):
                stale.unlink()
            self._import(cache, minter=minter, clock=clock)
        return cache, cold

    def _import(self, cache: Path, *, minter: IdMinter, clock: Callable[[], datetime]) -> None:
        tmp = cache.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        connection = sqlite3.connect(tmp, isolation_level=None)
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        load_time = format_datetime(clock())
        try:
            connection.execute("BEGIN")
            connection.execute(RECYCLE_BIN_TABLE)
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
                self._fill_defaults(connection, name, obj, load_time, minter=minter, clock=clock)
                _index(connection, name, obj)
            connection.execute("COMMIT")
        finally:
            connection.close()
        os.replace(tmp, cache)

    def _import_object(self, connection: sqlite3.Connection, name: str, obj: ObjectDef) -> None:
        started = time.perf_counter()
        table = quote(name)
        columns = ", ".join(f"{quote(f.name)} {sql_type(f)}" for f in obj.fields.values())
        connection.execute(f"CREATE TABLE {table} ({columns})")
        header = self.headers[name]
        converters = [CSV_IN.get(obj.fields[c].type, csv_text) for c in header]
        marks = ", ".join("?" for _ in header)
        insert = f"INSERT INTO {table} ({', '.join(quote(c) for c in header)}) VALUES ({marks})"  # noqa: S608
        path = self.path / f"{name}.csv"
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

    def _fill_defaults(
        self,
        connection: sqlite3.Connection,
        name: str,
        obj: ObjectDef,
        load_time: str,
        *,
        minter: IdMinter,
        clock: Callable[[], datetime],
    ) -> None:
        """System and derived fields a CSV export may lack, filled the way Salesforce would."""
        table = quote(name)
        missing_ids = connection.execute(
            f'SELECT rowid FROM {table} WHERE "Id" IS NULL'  # noqa: S608
        ).fetchall()
        connection.executemany(
            f'UPDATE {table} SET "Id" = ? WHERE rowid = ?',  # noqa: S608
            [(minter.new_id(obj.key_prefix), rowid) for (rowid,) in missing_ids],
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
            cutoff = (clock().date() - timedelta(days=365)).isoformat()
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

    # -- persistence
    def write_back(self, connection: sqlite3.Connection) -> None:
        """Write every object from ``connection``'s database to its CSV (atomically per file)."""
        for name, obj in self.objects.items():
            header = list(self.headers.get(name, []))
            header += [f for f in obj.fields if f not in header]
            fdefs = [obj.fields[f] for f in header]
            path = self.path / f"{name}.csv"
            tmp = path.with_suffix(".csv.tmp")
            cursor = connection.execute(
                f"SELECT {', '.join(quote(f) for f in header)} FROM {quote(name)} ORDER BY rowid"  # noqa: S608
            )
            with tmp.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
                while rows := cursor.fetchmany(5000):
                    writer.writerows([csv_out(f, v) for f, v in zip(fdefs, row, strict=True)] for row in rows)
            os.replace(tmp, path)


def _index(connection: sqlite3.Connection, name: str, obj: ObjectDef) -> None:
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
