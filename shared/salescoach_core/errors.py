"""Domain errors. Each carries a stable machine-readable code; the API maps them to problem details."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self


class DomainError(Exception):
    """Base of every error a client can act on. `code` is stable; `detail` says what to fix."""

    code: ClassVar[str] = "domain_error"
    status: ClassVar[int] = 400
    title: ClassVar[str] = "Request cannot be processed"
    abstract: ClassVar[bool] = True
    """Set in a base class's own body only: a base is never raised, so its code is never sent."""

    def __init__(
        self,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        field: str | None = None,
        inputs: Sequence[str] = (),
        **extensions: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        # Response headers the status calls for (WWW-Authenticate, Retry-After).
        self.headers = headers or {}
        # The request body field at fault, named in `errors[]` as a validation error would be.
        self.field = field
        self.inputs = tuple(inputs)
        """The inputs at fault, by name, when the code raising the error knows which of several
        it was given (a period's `from` or `to`) and they are not a body field."""
        self.locs: tuple[tuple[str, str], ...] = (("body", field),) if field is not None else ()
        """Where the inputs at fault are in the request, as FastAPI's validation errors name
        them (`("body", "coach_id")`, `("query", "period")`): a body field's from `field`; a
        parameter's set by the API, which knows where the value came from
        (salescoach_api.problems.parameters)."""
        self.extensions = extensions


class NotFoundError(DomainError):
    """No record with this id that the caller may see. Absent and out of the caller's scope
    answer the same, built by `of` from the id alone, so the answer never tells them apart."""

    code = "not_found"
    status = 404
    title = "Not found"
    template: ClassVar[str] = "Nothing has the id {id}."
    """`detail` for an id naming nothing the caller may see; `{id}` is the id."""

    @classmethod
    def of(cls, record_id: object) -> Self:
        return cls(cls.template.format(id=record_id))


class ForbiddenError(DomainError):
    """The caller is who they say, and may see the record, but not make this change."""

    code = "forbidden"
    status = 403
    title = "Forbidden"


class CannotCoachSelfError(ForbiddenError):
    """A manager changing coaching records about themselves: someone above them coaches them."""

    code = "cannot_coach_self"
    title = "Cannot coach yourself"


class ConflictError(DomainError):
    code = "conflict"
    status = 409
    title = "Conflict"


class BadRequestError(DomainError):
    """A request the server cannot read as sent (400): a malformed header, say."""

    code = "bad_request"
    status = 400
    title = "Bad request"
    abstract = True


class UnprocessableError(DomainError):
    code = "unprocessable"
    status = 422
    title = "Unprocessable request"
    abstract = True


class InvalidIdError(UnprocessableError):
    """A value that is not a well-formed Salesforce id: it names no record, whoever asks."""

    code = "invalid_id"
    title = "Not a Salesforce id"


class InvalidCursorError(UnprocessableError):
    """A list's or the event feed's `cursor` that this API did not issue (or issued for
    another list or sort): one code for every list, whatever the cursor's form."""

    code = "invalid_cursor"
    title = "Invalid cursor"


class PreconditionFailedError(DomainError):
    """A write made on a revision of the record that is no longer current (`If-Match`): someone
    changed it since the caller read it, and this write was refused rather than overwriting."""

    code = "precondition_failed"
    status = 412
    title = "Precondition failed"
