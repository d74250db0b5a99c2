"""Record writes with Salesforce's side effects (derived fields, stage history, the recycle bin),
their checks (field access, references, unique values) and the write transaction."""

from __future__ import annotations

import secrets
import threading
from typing import TYPE_CHECKING

from salescoach_emulator.schema import ObjectDef
from salescoach_emulator.soql import quote
from salescoach_emulator.store.codecs import Record, json_in
from salescoach_emulator.store.errors import RecordError

if TYPE_CHECKING:
    from salescoach_emulator.store.org import OrgStore


class Writes:
    """The writes of one store; each runs inside ``transaction()``."""

    def __init__(self, store: OrgStore) -> None:
        self._store = store
        self._lock = threading.RLock()

    def transaction(self) -> _Transaction:
        return _Transaction(self._store, self._lock)

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
            targets = [self._store.objects[t] for t in fdef.reference_to if t in self._store.objects]
            if not targets:
                continue
            for target in targets:
                if target.key_prefix == str(value)[:3]:
                    found = (
                        self._store.conn()
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
                self._store.conn()
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

    def _stage(self, stage_name: str) -> Record | None:
        if "OpportunityStage" not in self._store.objects:
            return None
        cursor = self._store.conn().execute(
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
            if stage is None and "OpportunityStage" in self._store.objects:
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
            values["OwnerId"] = self._store.user_id

    def _write_history(self, opportunity: Record, stamp: str) -> None:
        history = self._store.objects.get("OpportunityHistory")
        if history is None:
            return
        row = {
            "Id": self._store.minter.new_id(history.key_prefix),
            "OpportunityId": opportunity["Id"],
            "StageName": opportunity.get("StageName"),
            "Amount": opportunity.get("Amount"),
            "CloseDate": opportunity.get("CloseDate"),
            "Probability": opportunity.get("Probability"),
            "ForecastCategory": opportunity.get("ForecastCategoryName"),
            "IsDeleted": 0,
            "CreatedDate": stamp,
            "CreatedById": self._store.user_id,
            "LastModifiedDate": stamp,
            "LastModifiedById": self._store.user_id,
            "SystemModstamp": stamp,
        }
        self._insert_row(history, row)

    def _insert_row(self, obj: ObjectDef, row: Record) -> None:
        columns = [c for c in row if c in obj.fields]
        self._store.conn().execute(
            f"INSERT INTO {quote(obj.name)} ({', '.join(quote(c) for c in columns)})"  # noqa: S608
            f" VALUES ({', '.join('?' for _ in columns)})",
            [row[c] for c in columns],
        )

    def _recycle(self, object_name: str, record_id: object, deleted_at: object) -> None:
        self._store.conn().execute(
            "INSERT OR REPLACE INTO _recycle_bin (object, id, deleted_at) VALUES (?, ?, ?)",
            (object_name, record_id, deleted_at),
        )

    def _object_for(self, object_name: str, operation: str) -> ObjectDef:
        """The object, if it supports ``operation`` (insert, update or delete)."""
        obj = self._store.require_object(object_name)
        allowed = {"insert": obj.createable, "update": obj.updateable, "delete": obj.deletable}
        if not allowed[operation]:
            raise RecordError(
                "INVALID_TYPE_FOR_OPERATION", f"entity type {obj.name} does not support {operation}"
            )
        return obj

    def create(self, object_name: str, data: Record) -> str:
        """Insert a record; returns its new id. Caller holds ``transaction()``."""
        store = self._store
        obj = self._object_for(object_name, "insert")
        values = self._converted(obj, data, creating=True)
        missing = [f for f in obj.required_on_create if values.get(f) is None]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                fields=missing,
            )
        stamp = store.stamp()
        self._derive(obj, values, None, stamp)
        self._check_references(obj, values)
        self._check_unique(obj, values, None)
        record_id = store.minter.new_id(obj.key_prefix)
        row = {
            "Id": record_id,
            "IsDeleted": 0,
            "CreatedDate": stamp,
            "CreatedById": store.user_id,
            "LastModifiedDate": stamp,
            "LastModifiedById": store.user_id,
            "SystemModstamp": stamp,
            **values,
        }
        self._insert_row(obj, row)
        if obj.name == "Opportunity":
            self._write_history(row, stamp)
        return record_id

    def update(self, object_name: str, record_id: str, data: Record) -> str:
        store = self._store
        obj = self._object_for(object_name, "update")
        before = store.row(obj, record_id)
        if before is None:
            raise RecordError(
                "ENTITY_IS_DELETED" if store.row(obj, record_id, include_deleted=True) else "NOT_FOUND",
                "entity is deleted"
                if store.row(obj, record_id, include_deleted=True)
                else "The requested resource does not exist",
                status=404,
            )
        values = self._converted(obj, data, creating=False)
        stamp = store.stamp()
        self._derive(obj, values, before, stamp)
        self._check_references(obj, values)
        self._check_unique(obj, values, str(before["Id"]))
        values.update(LastModifiedDate=stamp, LastModifiedById=store.user_id, SystemModstamp=stamp)
        assignments = ", ".join(f"{quote(c)} = ?" for c in values)
        store.conn().execute(
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
        obj = self._store.require_object(object_name)
        ids = self._store.find_by_field(object_name, field_name, value)
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
        store = self._store
        obj = self._object_for(object_name, "delete")
        stored = store.row(obj, record_id, include_deleted=True)
        if stored is None:
            raise RecordError("NOT_FOUND", "The requested resource does not exist", status=404)
        if stored["IsDeleted"]:
            raise RecordError("ENTITY_IS_DELETED", "entity is deleted", status=404)
        stamp = store.stamp()
        store.conn().execute(
            f'UPDATE {quote(obj.name)} SET "IsDeleted" = 1, "SystemModstamp" = ?,'  # noqa: S608
            ' "LastModifiedDate" = ?, "LastModifiedById" = ? WHERE "Id" = ?',
            (stamp, stamp, store.user_id, stored["Id"]),
        )
        self._recycle(obj.name, stored["Id"], stamp)
        return str(stored["Id"])

    def seed(self, object_name: str, records: list[Record]) -> list[str]:
        """Admin: insert or replace raw records, system fields included (for tests)."""
        store = self._store
        obj = store.require_object(object_name)
        stamp = store.stamp()
        ids = []
        with self.transaction():
            for data in records:
                values: Record = {}
                for key, raw in data.items():
                    fdef = obj.field_ci(key)
                    if fdef is None:
                        raise RecordError("INVALID_FIELD", f"No such column '{key}' on {obj.name}")
                    values[fdef.name] = json_in(fdef, raw)
                record_id = values.get("Id") or store.minter.new_id(obj.key_prefix)
                values["Id"] = record_id
                for name in ("CreatedDate", "LastModifiedDate", "SystemModstamp"):
                    values.setdefault(name, stamp)
                values.setdefault("IsDeleted", 0)
                if obj.has_archive:
                    values.setdefault("IsArchived", 0)
                store.conn().execute(
                    f'DELETE FROM {quote(obj.name)} WHERE "Id" = ?',  # noqa: S608
                    (record_id,),
                )
                self._insert_row(obj, values)
                if values["IsDeleted"]:
                    self._recycle(obj.name, record_id, values["SystemModstamp"])
                ids.append(str(record_id))
        return ids

    def purge_recycle_bin(self, object_names: list[str] | None = None) -> int:
        """Hard-delete recycled records: they vanish from queryAll and ``deleted``."""
        store = self._store
        names = object_names or list(store.objects)
        purged = 0
        with self.transaction():
            for name in names:
                obj = store.require_object(name)
                cursor = store.conn().execute(
                    f'DELETE FROM {quote(obj.name)} WHERE "IsDeleted" = 1'  # noqa: S608
                )
                purged += cursor.rowcount
                store.conn().execute("DELETE FROM _recycle_bin WHERE object = ?", (obj.name,))
            store.last_purge = store.clock()
        return purged


class _Transaction:
    """One write transaction under the store's write lock; nested use makes savepoints."""

    def __init__(self, store: OrgStore, lock: threading.RLock) -> None:
        self.store = store
        self.lock = lock
        self.savepoint = f"sp_{secrets.token_hex(4)}"
        self.nested = False

    def __enter__(self) -> _Transaction:
        self.lock.acquire()
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
            self.lock.release()
