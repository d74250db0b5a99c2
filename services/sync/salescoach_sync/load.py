"""Loading into PostgreSQL: CSV streamed by COPY into a typed staging table, then set-based
statements merge it into the object's table, delete what the org no longer has, and count.

Everything happens on the caller's connection and inside the caller's transaction, so the
data and the high-water mark commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

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


class Loader:
    """Stage, merge and delete for one object on one connection (inside a transaction)."""

    def __init__(self, conn: psycopg.Connection[Any], obj: ResolvedObject) -> None:
        self._conn = conn
        self._obj = obj
        self._table = sql.Identifier(obj.spec.table.name)
        self._staged = [sql.Identifier(f.api_name) for f in obj.staged]

    @property
    def connection(self) -> psycopg.Connection[Any]:
        return self._conn

    # ------------------------------------------------------------------ staging

    def create_stage(self) -> None:
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(f.api_name), sql.SQL(f.sql_type)) for f in self._obj.staged
        )
        self._conn.execute(
            sql.SQL("CREATE TEMP TABLE {} ({}) ON COMMIT DROP").format(sql.Identifier(STAGE_TABLE), columns)
        )

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

    def merge(self, *, into_empty: bool = False) -> MergeCounts:
        """Insert new ids, update changed rows (only when a value differs), count both.
        `into_empty`: the caller saw the table empty under its lock (first load)."""
        spec = self._obj.spec
        targets: list[str] = [m.column for m in self._obj.columns]
        values: list[sql.Composable] = [self._value(m.column, m.source) for m in self._obj.columns]
        if CUSTOM_FIELDS_COLUMN in spec.table.c:
            targets.append(CUSTOM_FIELDS_COLUMN)
            values.append(self._custom_value())
        updatable = [c for c in targets if c != "id"]
        if into_empty:
            # First load: a plain INSERT skips the speculative insertion ON CONFLICT needs per
            # row. Safe because this object's advisory lock keeps other syncs out.
            cursor = self._conn.execute(
                sql.SQL("INSERT INTO {table} ({targets}) SELECT {values} FROM {stage} AS s").format(
                    table=self._table,
                    targets=sql.SQL(", ").join(map(sql.Identifier, targets)),
                    values=sql.SQL(", ").join(values),
                    stage=sql.Identifier(STAGE_TABLE),
                )
            )
            return MergeCounts(inserted=cursor.rowcount, updated=0, soft_deleted=0)
        soft_deleted = self._count_soft_deletes()
        statement = sql.SQL(
            "WITH merged AS ("
            " INSERT INTO {table} AS t ({targets}) SELECT {values} FROM {stage} AS s"
            " ON CONFLICT (id) DO UPDATE SET {assignments}"
            " WHERE ({current}) IS DISTINCT FROM ({incoming})"
            " RETURNING (t.xmax = 0) AS inserted)"
            " SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
        ).format(
            table=self._table,
            targets=sql.SQL(", ").join(map(sql.Identifier, targets)),
            values=sql.SQL(", ").join(values),
            stage=sql.Identifier(STAGE_TABLE),
            assignments=sql.SQL(", ").join(
                sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in updatable
            ),
            current=sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(c)) for c in updatable),
            incoming=sql.SQL(", ").join(sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in updatable),
        )
        row = self._conn.execute(statement).fetchone()
        inserted, updated = (int(row[0]), int(row[1])) if row else (0, 0)
        return MergeCounts(inserted=inserted, updated=updated - soft_deleted, soft_deleted=soft_deleted)

    def target_is_empty(self) -> bool:
        row = self._conn.execute(
            sql.SQL("SELECT NOT EXISTS (SELECT 1 FROM {})").format(self._table)
        ).fetchone()
        return bool(row and row[0])

    def _count_soft_deletes(self) -> int:
        if not any(m.column == "is_deleted" for m in self._obj.columns):
            return 0
        source = next(m.source for m in self._obj.columns if m.column == "is_deleted")
        row = self._conn.execute(
            sql.SQL(
                "SELECT count(*) FROM {stage} AS s JOIN {table} AS t ON t.id = s.{id}"
                " WHERE s.{deleted} AND NOT t.is_deleted"
            ).format(
                stage=sql.Identifier(STAGE_TABLE),
                table=self._table,
                id=sql.Identifier("Id"),
                deleted=sql.Identifier(source),
            )
        ).fetchone()
        return int(row[0]) if row else 0

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

    def flag_deleted(self, ids: Sequence[str]) -> int:
        """Ids getDeleted reported that this pass did not read again: mark them deleted.

        A record still in the recycle bin comes back from queryAll (its SystemModstamp moved
        when it was deleted) and is merged as it is; one that did not come back was purged,
        and the id reconciliation removes its row.
        """
        if not ids or not self._obj.spec.has_is_deleted:
            return 0
        cursor = self._conn.execute(
            sql.SQL(
                "UPDATE {target} AS t SET is_deleted = true WHERE t.id = ANY(%s) AND NOT t.is_deleted"
                " AND NOT EXISTS (SELECT 1 FROM {stage} AS s WHERE s.{id} = t.id)"
            ).format(target=self._table, stage=sql.Identifier(STAGE_TABLE), id=sql.Identifier("Id")),
            (list(ids),),
        )
        return cursor.rowcount
