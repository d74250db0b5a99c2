"""`/v1/reps/{rep_id}/quotas` and the RevOps bulk load `/v1/quotas` (JSON list or CSV upload)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Body, UploadFile

from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import DbSessionDep, ReadSessionDep
from salescoach_api.problems import parameters
from salescoach_api.quotas.schemas import QuotaImportResult, QuotaList, QuotaPublic, QuotaRowIn, QuotaSet
from salescoach_core import quotas, reps

router = v1_router(prefix="/v1", tags=["quotas"])

MAX_UPLOAD_BYTES = 5 * 1024 * 1024


@router.put("/reps/{rep_id}/quotas/{month}", operation_id="setQuota", dependencies=[requires(Access.ADMIN)])
def set_quota(db_session: DbSessionDep, rep_id: str, month: str, body: QuotaSet) -> QuotaPublic:
    """Create or replace the rep's quota for a month (`YYYY-MM`)."""
    rep = reps.get_user(db_session, rep_id)
    with parameters("path", "month"):
        first_day = quotas.parse_month(month)
    quota = quotas.set_quota(db_session, rep_id=rep.id, month=first_day, amount=body.amount)
    return QuotaPublic.of(quota)


@router.get(
    "/reps/{rep_id}/quotas", operation_id="listQuotas", dependencies=[requires(Access.REP_READ, rep="rep_id")]
)
def list_quotas(db_session: ReadSessionDep, rep_id: str) -> QuotaList:
    """The rep's monthly quotas, oldest first."""
    rep = reps.get_user(db_session, rep_id)
    return QuotaList(items=[QuotaPublic.of(q) for q in quotas.list_quotas(db_session, rep_id=rep.id)])


@router.put("/quotas", operation_id="setQuotas", dependencies=[requires(Access.ADMIN)])
def set_quotas(
    db_session: DbSessionDep, rows: Annotated[list[QuotaRowIn], Body(min_length=1, max_length=10000)]
) -> QuotaImportResult:
    """Set many quotas at once. Every row is checked first; any invalid row rejects them all
    (422 `invalid_quota_rows`, `row_errors` names each row and field)."""
    valid = quotas.validate_rows(db_session, [row.model_dump(mode="json") for row in rows])
    return QuotaImportResult(written=quotas.upsert_quotas(db_session, valid))


@router.post("/quotas/import", operation_id="importQuotasCsv", dependencies=[requires(Access.ADMIN)])
def import_quotas_csv(db_session: DbSessionDep, file: UploadFile) -> QuotaImportResult:
    """Upload a CSV with the header `rep_id,month,amount` (multipart field `file`, UTF-8, at most
    5 MB). All rows or none are written; errors name the rows (row 1 is the first after the header)."""
    content = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(content) > MAX_UPLOAD_BYTES:
        raise quotas.InvalidQuotaRowsError("The CSV is larger than 5 MB; split it into several uploads.")
    valid = quotas.validate_rows(db_session, quotas.parse_csv(content))
    return QuotaImportResult(written=quotas.upsert_quotas(db_session, valid))
