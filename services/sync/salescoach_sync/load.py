"""Loading into PostgreSQL. Bulk CSV is streamed by COPY into a typed staging table, then
set-based statements merge it into the object's table, delete what the org no longer has, and
count. A REST query page (a small incremental delta) is merged straight from its JSON text in
one statement, with no staging table.

Everything happens on the caller's connection and inside the caller's transaction, so the
data and the high-water mark commit together.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from salescoach_sync.errors import SyncError
from salescoach_sync.objects import CUSTOM_FIELDS_COLUMN, MODSTAMP, ResolvedObject

STAGE_TABLE = "sync_stage"
IDS_TABLE = "sync_ids"

# Custom fields go into JSONB in the form Salesforce's Bulk CSV uses, whichever API read them.
_JSON_EXPRESSIONS = {
    "timestamptz": "to_jsonb(to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))",
    "date": "to_jsonb(to_char({}, 'YYYY-MM-DD'))",
}


@dataclass(frozen=True)
class MergeCounts:
    inserted: int
    updated: int
    soft_deleted: int  # rows that turned IsDeleted in this merge (also counted nowhere else)


@dataclass(frozen=True)
class RestPage:
    rows: int  # records on this page
    total: int  # the query's totalSize
    next_url: str | None  # nextRecordsUrl, None on the last page
    counts: MergeCounts  # what merging the page did
    max_modstamp: datetime | None  # the page's greatest SystemModstamp


def _is_text(sql_type: str) -> bool:
    return sql_type.upper() == "TEXT" or sql_type.upper().startswith("VARCHAR")


class Loader:
    """Stage, merge and delete for one object on one connection (inside a transaction)."""

    def __init__(self, conn: psycopg.Connection[Any], obj: ResolvedObject) -> None:
        self._conn = conn
        self._obj = obj
        self._table = sql.Identifier(obj.spec.table.name)
        self._staged = [sql.Identifier(f.api_name) for f in obj.staged]
        self._stage_created = False

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    # ------------------------------------------------------------------ staging

    def create_stage(self) -> None:
        """The staging table for Bulk CSV (created once per transaction: later calls do nothing)."""
        if self._stage_created:
            return
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(f.api_name), sql.SQL(f.sql_type)) for f in self._obj.staged
        )
        self._conn.execute(
            sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(sql.Identifier(STAGE_TABLE), columns)
        )
        self._stage_created = True

    def copy_csv(self, chunks: Iterable[bytes], *, table: str = STAGE_TABLE) -> None:
        """COPY CSV (header row first, named by API names) into the staging table.

        HEADER MATCH makes PostgreSQL check the header against the column list, so a
        reordered or renamed column fails loudly instead of loading values into the wrong
        place; FORCE_NULL reads `""` as null, as Salesforce means it.
        """
        columns = self._staged if table == STAGE_TABLE else [sql.Identifier("Id")]
        column_list = sql.SQL(", ").join(columns)
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER MATCH, FORCE_NULL ({}))").format(
            sql.Identifier(table), column_list, column_list
        )
        with self._conn.cursor() as cursor, cursor.copy(statement) as copy:
            for chunk in chunks:
                copy.write(chunk)

    def merge_rest_page(self, body: str) -> RestPage:
        """Merge the records of one REST query page, given as the JSON text Salesforce sent,
        straight into the object's table: one statement, one round trip, no staging table.

        PostgreSQL parses the page and types each field by the staged field's SQL type
        (`jsonb_to_recordset` with the API-named columns), so no record is decoded in Python.
        Strings that are empty become null, as FORCE_NULL makes them in the Bulk CSV path: both
        paths merge the same values. The merge is the one `merge` makes from the staging table
        (same values, same "only when a value differs", same counts); the records that turned
        IsDeleted are counted against the rows as they were before this statement (every part
        of one statement reads the same snapshot). A REST query never returns a record twice,
        so pages can be merged one by one inside the object's transaction."""
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(f.api_name), sql.SQL(f.sql_type)) for f in self._obj.staged
        )
        values = sql.SQL(", ").join(
            sql.SQL("NULLIF(r.{0}, '') AS {0}" if _is_text(f.sql_type) else "r.{0}").format(
                sql.Identifier(f.api_name)
            )
            for f in self._obj.staged
        )
        records = sql.SQL(
            "SELECT {values} FROM page, jsonb_to_recordset(page.body -> 'records') AS r({columns})"
        ).format(values=values, columns=columns)
        statement = sql.SQL(
            "WITH page AS (SELECT %s::jsonb AS body),"
            " s AS MATERIALIZED ({records}),"
            " soft AS ({soft}),"
            " merged AS ({merge})"
            " SELECT (SELECT count(*) FROM s), (body ->> 'totalSize')::bigint,"
            " COALESCE((body ->> 'done')::boolean, true), body ->> 'nextRecordsUrl',"
            " (SELECT count(*) FILTER (WHERE inserted) FROM merged),"
            " (SELECT count(*) FILTER (WHERE NOT inserted) FROM merged),"
            " (SELECT count(*) FROM soft), (SELECT max({modstamp}) FROM s) FROM page"
        ).format(
            records=records,
            soft=self._soft_deletes(sql.Identifier("s")),
            merge=self._upsert(sql.Identifier("s")),
            modstamp=sql.Identifier(MODSTAMP),
        )
        row = self._conn.execute(statement, (body,)).fetchone()
        assert row is not None
        rows, total, done, next_url, inserted, updated, soft_deleted, max_modstamp = row
        return RestPage(
            rows=int(rows),
            total=int(total) if total is not None else int(rows),
            next_url=None if done or not next_url else str(next_url),
            counts=_counts(inserted, updated, soft_deleted),
            max_modstamp=max_modstamp,
        )

    # ------------------------------------------------------------------ first load, direct

    def direct_columns(self) -> list[str] | None:
        """The target columns in the CSV's column order, when a first load can COPY the CSV
        straight into the object's table: every staged field feeds exactly one column and no
        custom field needs building into JSON. None otherwise (the staging path then)."""
        if self._obj.custom:
            return None
        by_source: dict[str, str] = {}
        for mapping in self._obj.columns:
            if mapping.source in by_source:
                return None
            by_source[mapping.source] = mapping.column
        staged = [f.api_name for f in self._obj.staged]
        if set(by_source) != set(staged) or MODSTAMP not in by_source:
            return None
        return [by_source[name] for name in staged]

    def copy_csv_direct(self, chunks: Iterable[bytes], columns: Sequence[str]) -> int:
        """COPY the CSV straight into the object's table (a first load into an empty table).

        The header names API fields, not the table's columns, so PostgreSQL's HEADER MATCH
        cannot check it: `_checked_header` does, with the same strictness. Returns the rows."""
        column_list = sql.SQL(", ").join(map(sql.Identifier, columns))
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true, FORCE_NULL ({}))").format(
            self._table, column_list, column_list
        )
        expected = [f.api_name for f in self._obj.staged]
        with self._conn.cursor() as cursor:
            with cursor.copy(statement) as copy:
                for chunk in _checked_header(chunks, expected):
                    copy.write(chunk)
            return max(cursor.rowcount, 0)

    def secondary_indexes(self) -> list[tuple[str, str]]:
        """(name, definition) of the table's indexes that enforce nothing (not unique, no
        constraint): a first load may drop them and build them once at the end, which is
        several times cheaper than maintaining them row by row."""
        rows = self._conn.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index AS i"
            " WHERE i.indrelid = %s::regclass AND NOT i.indisunique"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)"
            " ORDER BY 1",
            (self._obj.spec.table.name,),
        ).fetchall()
        return [(str(name), str(definition)) for name, definition in rows]

    def drop_indexes(self, indexes: Sequence[tuple[str, str]], *, lock_timeout_ms: int = 2000) -> bool:
        """Drop `indexes` inside the caller's transaction (a crash rolls the drop back with
        the data). Waits at most `lock_timeout_ms` for readers of the table: False, and
        nothing dropped, when they hold it longer (the load then keeps the indexes)."""
        try:
            with self._conn.transaction():
                self._conn.execute(
                    sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(lock_timeout_ms))
                )
                for name, _ in indexes:
                    self._conn.execute(sql.SQL("DROP INDEX {}").format(sql.SQL(name)))
        except psycopg.errors.LockNotAvailable:
            return False
        finally:
            self._conn.execute("SET LOCAL lock_timeout = DEFAULT")
        return True

    def create_indexes(self, indexes: Sequence[tuple[str, str]]) -> None:
        self._conn.execute("SET LOCAL maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            # pg_get_indexdef output, read back from the catalog a moment ago
            self._conn.execute(sql.SQL(definition))

    def estimated_rows(self) -> float:
        """The planner's row estimate for the table (pg_class.reltuples, kept by ANALYZE,
        VACUUM and index builds); 0 while unknown."""
        row = self._conn.execute(
            "SELECT reltuples FROM pg_class WHERE oid = %s::regclass", (self._obj.spec.table.name,)
        ).fetchone()
        return max(float(row[0]), 0.0) if row else 0.0

    def target_count(self) -> int:
        row = self._conn.execute(sql.SQL("SELECT count(*) FROM {}").format(self._table)).fetchone()
        return int(row[0]) if row else 0

    def target_max_modstamp(self) -> datetime | None:
        column = next(m.column for m in self._obj.columns if m.source == MODSTAMP)
        row = self._conn.execute(
            sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(column), self._table)
        ).fetchone()
        return row[0] if row else None

    def analyze_stage(self) -> None:
        # Temp tables get no autovacuum statistics; the merge and anti-joins plan better with them.
        self._conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(STAGE_TABLE)))

    def staged_count(self) -> int:
        row = self._conn.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(STAGE_TABLE))
        ).fetchone()
        return int(row[0]) if row else 0

    def max_modstamp(self) -> datetime | None:
        row = self._conn.execute(
            sql.SQL("SELECT max({}) FROM {}").format(sql.Identifier(MODSTAMP), sql.Identifier(STAGE_TABLE))
        ).fetchone()
        return row[0] if row else None

    # ------------------------------------------------------------------ merge

    def _value(self, column: str, source: str) -> sql.Composable:
        staged = sql.SQL("s.{}").format(sql.Identifier(source))
        target = self._obj.spec.table.c[column]
        default = getattr(target.default, "arg", None)
        if not target.nullable and default is not None and not callable(default):
            # Salesforce never sends null for these (booleans); keep the NOT NULL column valid anyway.
            return sql.SQL("COALESCE({}, {})").format(staged, sql.Literal(default))
        return staged

    def _custom_value(self) -> sql.Composable:
        types = {f.api_name: f.sql_type for f in self._obj.staged}
        pairs: list[sql.Composable] = []
        for mapping in self._obj.custom:
            staged = sql.SQL("s.{}").format(sql.Identifier(mapping.source))
            template = _JSON_EXPRESSIONS.get(types[mapping.source], "to_jsonb({})")
            pairs.append(
                sql.SQL("{}, {}").format(sql.Literal(mapping.column), sql.SQL(template).format(staged))
            )
        return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(pairs))

    def _targets(self) -> tuple[list[str], list[sql.Composable]]:
        """The table's columns a merge writes and, for each, its value from the source `s`."""
        targets: list[str] = [m.column for m in self._obj.columns]
        values: list[sql.Composable] = [self._value(m.column, m.source) for m in self._obj.columns]
        if CUSTOM_FIELDS_COLUMN in self._obj.spec.table.c:
            targets.append(CUSTOM_FIELDS_COLUMN)
            values.append(self._custom_value())
        return targets, values

    def _upsert(self, source: sql.Composable) -> sql.Composable:
        """INSERT the rows of `source` (API-named columns): new ids are inserted, known ones
        updated only when a value differs; RETURNING says which (`inserted`)."""
        targets, values = self._targets()
        updatable = [c for c in targets if c != "id"]
        return sql.SQL(
            "INSERT INTO {table} AS t ({targets}) SELECT {values} FROM {source} AS s"
            " ON CONFLICT (id) DO UPDATE SET {assignments}"
            " WHERE ({current}) IS DISTINCT FROM ({incoming})"
            " RETURNING (t.xmax = 0) AS inserted"
        ).format(
            table=self._table,
            targets=sql.SQL(", ").join(map(sql.Identifier, targets)),
            values=sql.SQL(", ").join(values),
            source=source,
            assignments=sql.SQL(", ").join(
                sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in updatable
            ),
            current=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in updatable),
            incoming=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in updatable),
        )

    def _soft_deletes(self, source: sql.Composable) -> sql.Composable:
        """The rows of `source` that arrive IsDeleted while the table holds them as not deleted
        (one row each: count them)."""
        mapping = next((m for m in self._obj.columns if m.column == "is_deleted"), None)
        if mapping is None:
            return sql.SQL("SELECT 1 WHERE false")
        return sql.SQL(
            "SELECT 1 FROM {source} AS s JOIN {table} AS t ON t.id = s.{id}"
            " WHERE s.{deleted} AND NOT t.is_deleted"
        ).format(
            source=source, table=self._table, id=sql.Identifier("Id"), deleted=sql.Identifier(mapping.source)
        )

    def merge(self, *, into_empty: bool = False) -> MergeCounts:
        """Merge the staging table: insert new ids, update changed rows (only when a value
        differs), count both. `into_empty`: the caller saw the table empty under its lock
        (first load)."""
        stage = sql.Identifier(STAGE_TABLE)
        if into_empty:
            # First load: a plain INSERT skips the speculative insertion ON CONFLICT needs per
            # row. Safe because this object's advisory lock keeps other syncs out.
            targets, values = self._targets()
            cursor = self._conn.execute(
                sql.SQL("INSERT INTO {table} ({targets}) SELECT {values} FROM {stage} AS s").format(
                    table=self._table,
                    targets=sql.SQL(", ").join(map(sql.Identifier, targets)),
                    values=sql.SQL(", ").join(values),
                    stage=stage,
                )
            )
            return MergeCounts(inserted=cursor.rowcount, updated=0, soft_deleted=0)
        row = self._conn.execute(
            sql.SQL(
                "WITH soft AS ({soft}), merged AS ({merge})"
                " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted),"
                " (SELECT count(*) FROM soft) FROM merged"
            ).format(soft=self._soft_deletes(stage), merge=self._upsert(stage))
        ).fetchone()
        assert row is not None
        return _counts(*row)

    def target_is_empty(self) -> bool:
        row = self._conn.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(self._table)
        ).fetchone()
        return bool(row and row[0])

    # ------------------------------------------------------------------ deletes

    def delete_missing_from_stage(self) -> int:
        """After a full read: rows the org no longer has at all (purged) go."""
        return self._delete_not_in(STAGE_TABLE)

    def create_ids_table(self) -> None:
        """A table for the org's full id set (reconciliation), filled with copy_csv(table=IDS_TABLE)."""
        self._conn.execute(
            sql.SQL("CREATE TEMP TABLE {} ({} varchar(18)) ON COMMIT DROP").format(
                sql.Identifier(IDS_TABLE), sql.Identifier("Id")
            )
        )

    def delete_missing_from_ids(self) -> int:
        """Rows whose id the org's full id set lacks were purged: delete them."""
        self._conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier(IDS_TABLE)))
        deleted = self._delete_not_in(IDS_TABLE)
        self._conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(IDS_TABLE)))
        return deleted

    def _delete_not_in(self, table: str) -> int:
        cursor = self._conn.execute(
            sql.SQL(
                "DELETE FROM {target} AS t WHERE NOT EXISTS (SELECT 1 FROM {ids} AS i WHERE i.{id} = t.id)"
            ).format(target=self._table, ids=sql.Identifier(table), id=sql.Identifier("Id"))
        )
        return cursor.rowcount

    def flag_deleted(self, deleted: Sequence[tuple[str, datetime]]) -> int:
        """Records getDeleted reported (id, deletedDate): mark their rows deleted, unless the
        row's SystemModstamp is later than the deletion, which means we have read the record
        since (undeleted, or edited after an undelete): getDeleted spans minutes, and must not
        undo a newer state. Compared to the second, the precision of deletedDate.

        A record still in the recycle bin comes back from queryAll (its SystemModstamp moved
        when it was deleted) and is merged as it is; one that did not come back was purged,
        and the id reconciliation removes its row.
        """
        if not deleted or not self._obj.spec.has_is_deleted:
            return 0
        cursor = self._conn.execute(
            sql.SQL(
                "UPDATE {target} AS t SET is_deleted = true"
                " FROM unnest(%s::text[], %s::timestamptz[]) AS d(id, deleted_at)"
                " WHERE t.id = d.id AND NOT t.is_deleted"
                " AND (t.system_modstamp IS NULL OR date_trunc('second', t.system_modstamp) <= d.deleted_at)"
            ).format(target=self._table),
            ([i for i, _ in deleted], [at for _, at in deleted]),
        )
        return cursor.rowcount


def _counts(inserted: int, changed: int, soft_deleted: int) -> MergeCounts:
    """A merge's counts from its INSERTed rows, its UPDATEd rows and, among those, the rows
    that turned IsDeleted (counted as deleted, not updated)."""
    soft = int(soft_deleted)
    return MergeCounts(inserted=int(inserted), updated=int(changed) - soft, soft_deleted=soft)


def _checked_header(chunks: Iterable[bytes], expected: Sequence[str]) -> Iterator[bytes]:
    """Pass `chunks` through after checking that the CSV's header row is exactly `expected`
    (what HEADER MATCH checks when the COPY columns are named like the header)."""
    pending = b""
    iterator = iter(chunks)
    for chunk in iterator:
        pending += chunk
        if b"\n" in pending:
            break
    line = pending.split(b"\n", 1)[0].rstrip(b"\r").decode()
    header = next(csv.reader([line]), []) if line else []
    if header != list(expected):
        raise SyncError(
            f"the Bulk CSV header {header} does not match the selected fields {list(expected)}; "
            "a column would load into the wrong place, so nothing was loaded"
        )
    if pending:
        yield pending
    yield from iterator
