"""What each path parameter of the API names, and the 404 an id that names nothing answers.

One table for the two places that need it: the access check, which answers an id outside the
caller's scope with exactly that 404 (salescoach_api.auth.policy), and the OpenAPI document,
which lists each operation's 404 codes (salescoach_api.error_responses). A path parameter not
listed here is refused when its route is declared.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from salescoach_core.access import sf_user_exists
from salescoach_core.api_keys import ApiKeyNotFoundError
from salescoach_core.coaching.errors import ActionItemNotFoundError, GoalNotFoundError, SessionNotFoundError
from salescoach_core.errors import NotFoundError
from salescoach_core.integrations.errors import DeliveryNotFoundError, WebhookNotFoundError
from salescoach_core.reps import ManagerNotFoundError, PersonNotFoundError, RepNotFoundError, is_manager

NOT_FOUND: dict[str, type[NotFoundError]] = {
    "rep_id": RepNotFoundError,
    "manager_id": ManagerNotFoundError,
    "user_id": PersonNotFoundError,
    "goal_id": GoalNotFoundError,
    "session_id": SessionNotFoundError,
    "item_id": ActionItemNotFoundError,
    "webhook_id": WebhookNotFoundError,
    "delivery_id": DeliveryNotFoundError,
    "prefix": ApiKeyNotFoundError,
}
"""Path parameters that name a record: the error an id naming none (or none the caller may see)
answers."""

PEOPLE: dict[str, Callable[[Session, str], bool]] = {
    "rep_id": sf_user_exists,
    "manager_id": is_manager,
    "user_id": sf_user_exists,
}
"""Path ids that are Salesforce User Ids, and whether one (18 characters) names such a person.
The access check of a route declaring `requires(..., rep=<one of them>)` answers the 404 of
NOT_FOUND, before any other check of the request, when the id is out of the caller's scope or
names no one (a rep: any synced user, so a former rep's records stay readable). A malformed one
is 422 `invalid_id`, for every caller."""

VALUES = frozenset({"month"})
"""Path parameters that are values, not ids: a malformed one is a 422 like any parameter's."""
