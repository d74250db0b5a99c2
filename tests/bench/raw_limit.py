"""The raw limit of a load, as a program of its own: each synced object's Bulk 2.0 CSV fetched
with the sync's client and COPY-ed into an unindexed all-text table. No staging, no types, no
merge, no checkpoint. Run as `python -m tests.bench.raw_limit`, configured like the sync (the
SALESCOACH_SF_* variables and DATABASE_URL), so that its wall time is measured exactly as the
sync's is; it prints one JSON line: its own time from the first call on, and the rows loaded.
"""

from __future__ import annotations

import json
import time

import psycopg

from salescoach_core.settings import get_settings
from salescoach_sync.client import ResultPage, SalesforceClient
from salescoach_sync.extract import StopToken, bulk_query

# The fields the sync selects (objects.py), by object; activities and opportunities by queryAll.
FIELDS = {
    "User": "Id Name Email IsActive ManagerId UserRoleId Title TimeZoneSidKey SystemModstamp",
    "OpportunityStage": "Id ApiName MasterLabel SortOrder IsActive IsClosed IsWon DefaultProbability"
    " SystemModstamp",
    "Opportunity": "Id OwnerId Name AccountId Amount StageName IsClosed IsWon CloseDate CreatedDate"
    " LastModifiedDate SystemModstamp IsDeleted Probability ForecastCategoryName Type LeadSource",
    "OpportunityHistory": "Id OpportunityId StageName Amount CloseDate CreatedDate SystemModstamp IsDeleted",
    "Task": "Id OwnerId WhatId WhoId Subject Status IsClosed ActivityDate TaskSubtype Type"
    " CallDurationInSeconds CompletedDateTime CreatedDate SystemModstamp IsDeleted IsArchived",
    "Event": "Id OwnerId WhatId WhoId Subject StartDateTime EndDateTime DurationInMinutes Type CreatedDate"
    " SystemModstamp IsDeleted IsArchived",
}
QUERY_ALL = {"Opportunity", "OpportunityHistory", "Task", "Event"}


def load() -> tuple[float, int]:
    settings = get_settings()
    url = settings.database_url.get_secret_value().replace("postgresql+psycopg://", "postgresql://", 1)
    client = SalesforceClient(settings)
    started = time.perf_counter()
    rows = 0
    with psycopg.connect(url) as conn:
        for object_name, fields in FIELDS.items():
            table = f"raw_{object_name.lower()}"
            conn.execute(f"CREATE TABLE {table} ({', '.join(f'{f} text' for f in fields.split())})")

            def copy_page(page: ResultPage, table: str = table) -> int:
                with (
                    conn.cursor() as cursor,
                    cursor.copy(f"COPY {table} FROM STDIN (FORMAT csv, HEADER true)") as copy,
                ):
                    for chunk in page.iter_bytes():
                        copy.write(chunk)
                return page.number_of_records or 0

            rows += bulk_query(
                client,
                f"SELECT {', '.join(fields.split())} FROM {object_name}",
                include_deleted=object_name in QUERY_ALL,
                consume_page=copy_page,
                stop=StopToken(),
                page_records=settings.sync_bulk_page_records,
            )
            conn.commit()
    client.close()
    return time.perf_counter() - started, rows


if __name__ == "__main__":
    seconds, rows = load()
    print(json.dumps({"seconds": seconds, "rows": rows}))
