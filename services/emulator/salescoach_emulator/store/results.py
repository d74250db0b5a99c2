"""Query results: a REST query's first page, result sets materialised as row ids behind a
locator (REST next pages, Bulk jobs), and their pages as JSON records or streamed CSV."""

from __future__ import annotations

import csv
import io
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from salescoach_emulator.soql import CompiledQuery
from salescoach_emulator.store.codecs import Record, json_as_stored, json_converter, record_attributes
from salescoach_emulator.store.errors import RecordError

if TYPE_CHECKING:
    from salescoach_emulator.store.org import OrgStore

QUERY_LOCATOR_IDLE_SECONDS = 15 * 60


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


class ResultSets:
    """The queries of one store and the result sets they leave behind; thread-safe."""

    def __init__(self, store: OrgStore) -> None:
        self._store = store
        self._results: dict[str, ResultSet] = {}
        self._lock = threading.Lock()

    @staticmethod
    def scope_sql(cq: CompiledQuery, include_deleted: bool) -> str:
        """``query`` hides deleted rows and archived activities; ``queryAll`` shows both."""
        where = cq.where_sql
        if not include_deleted:
            where = f'({where}) AND t."IsDeleted" = 0'
            if cq.object.has_archive:
                where += ' AND t."IsArchived" = 0'
        return where

    @staticmethod
    def _select_sql(cq: CompiledQuery) -> str:
        hidden = ['t."Id"'] + [f'{j.alias}."Id"' for j in cq.joins.values()]
        return ", ".join([c.sql for c in cq.columns] + hidden)

    def count(self, cq: CompiledQuery, include_deleted: bool) -> int:
        sql = (
            f"SELECT count(*) FROM (SELECT 1 FROM {cq.from_sql}"  # noqa: S608
            f" WHERE {self.scope_sql(cq, include_deleted)} LIMIT ? OFFSET ?)"
        )
        limit = cq.limit if cq.limit is not None else -1
        row = self._store.conn().execute(sql, [*cq.params, limit, cq.offset or 0]).fetchone()
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
        rows = self._store.conn().execute(sql, [*cq.params, want, cq.offset or 0]).fetchall()
        if len(rows) <= batch_size:
            return QueryPage(self.records(cq, rows, api_version), len(rows), None)
        result = self.materialize(cq, include_deleted=include_deleted, prefix="01g")
        return QueryPage(
            self.records(cq, rows[:batch_size], api_version),
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
        rows = self.read(result, start, batch_size)
        end = start + len(rows)
        records = self.records(result.query, rows, api_version)
        if end >= result.total:
            self.drop(ident)
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
        self._expire()
        locator = prefix + secrets.token_hex(8)[:15]
        table = f"r_{locator}"
        where = self.scope_sql(cq, include_deleted)
        params = list(cq.params)
        for bound, op in zip(id_range or (), (">=", "<"), strict=False):
            if bound is not None:
                where += f' AND t."Id" {op} ?'
                params.append(bound)
        limit = cq.limit if cq.limit is not None else -1
        connection = self._store.conn()
        connection.execute(f"CREATE TABLE rs.{table} (seq INTEGER PRIMARY KEY, rid INTEGER NOT NULL)")
        cursor = connection.execute(
            f"INSERT INTO rs.{table} (rid) SELECT t.rowid FROM {cq.from_sql}"  # noqa: S608
            f" WHERE {where} ORDER BY {cq.order_sql} LIMIT ? OFFSET ?",
            [*params, limit, cq.offset or 0],
        )
        result = ResultSet(locator, table, cq, cursor.rowcount, time.monotonic())
        with self._lock:
            self._results[locator] = result
        return result

    def drop(self, locator: str) -> None:
        with self._lock:
            result = self._results.pop(locator, None)
        if result is not None:
            self._store.conn().execute(f"DROP TABLE IF EXISTS rs.{result.table}")

    def _expire(self) -> None:
        # Bulk job results live until the job is deleted; REST locators expire when idle.
        cutoff = time.monotonic() - QUERY_LOCATOR_IDLE_SECONDS
        stale = [k for k, r in self._results.items() if k.startswith("01g") and r.last_used < cutoff]
        for locator in stale:
            self.drop(locator)

    @staticmethod
    def _page_sql(result: ResultSet, select: str) -> str:
        return (
            f"SELECT {select} FROM rs.{result.table} AS r CROSS JOIN {result.query.from_sql}"  # noqa: S608
            " WHERE t.rowid = r.rid AND r.seq > ? AND r.seq <= ? ORDER BY r.seq"
        )

    def read(self, result: ResultSet, start: int, count: int) -> list[tuple[Any, ...]]:
        result.last_used = time.monotonic()
        sql = self._page_sql(result, self._select_sql(result.query))
        return self._store.conn().execute(sql, (start, start + count)).fetchall()

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
        connection = self._store.new_connection()
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

    @staticmethod
    def records(cq: CompiledQuery, rows: list[tuple[Any, ...]], api_version: str) -> list[Record]:
        """REST JSON records (with ``attributes`` and nested parents) of rows read for ``cq``.

        What depends only on the query (each column's converter, the positions of its parents'
        ids) is worked out once per page, not once per value: a delta page of 1,000 Task
        records was mostly this bookkeeping."""
        ncols = len(cq.columns)
        join_index = {chain: ncols + 1 + i for i, chain in enumerate(cq.joins)}
        object_name = cq.object.name
        columns = [
            (
                i,
                col.field.name,
                json_converter(col.field),
                [(chain[-1], join_index[chain], cq.joins[chain].object.name)
                 for chain in (col.relationship[:depth] for depth in range(1, len(col.relationship) + 1))],
            )
            for i, col in enumerate(cq.columns)
        ]  # fmt: skip
        if not any(parents for _, _, _, parents in columns):
            # No parent objects (a sync's delta): the values go in with one C-level update per
            # record, and only the columns whose JSON form differs from the stored one (datetimes,
            # booleans) are converted afterwards, in place (a dict keeps its keys' order).
            names = [name for _, name, _, _ in columns]
            converted = [(i, name, conv) for i, name, conv, _ in columns if conv is not json_as_stored]
            flat: list[Record] = []
            for row in rows:
                item: Record = {"attributes": record_attributes(object_name, row[ncols], api_version)}
                item.update(zip(names, row[:ncols], strict=True))
                for i, name, convert in converted:
                    item[name] = convert(row[i])
                flat.append(item)
            return flat
        records = []
        for row in rows:
            record: Record = {"attributes": record_attributes(object_name, row[ncols], api_version)}
            for i, name, convert, parents in columns:
                target = record
                for key, id_index, parent_object in parents:
                    parent_id = row[id_index]
                    if parent_id is None:
                        target[key] = None
                        break
                    if target.get(key) is None:
                        target[key] = {"attributes": record_attributes(parent_object, parent_id, api_version)}
                    target = target[key]
                else:
                    target[name] = convert(row[i])
            records.append(record)
        return records
