"""The coaching domain's errors, each with a stable code (docs/coaching.md lists them)."""

from __future__ import annotations

from salescoach_core.errors import ConflictError, ForbiddenError, NotFoundError, UnprocessableError


class GoalNotFoundError(NotFoundError):
    code = "goal_not_found"
    title = "Goal not found"
    template = "No goal {id} among those you may see; `GET /v1/reps/{{rep_id}}/goals` lists a rep's goals."


class SessionNotFoundError(NotFoundError):
    code = "session_not_found"
    title = "Session not found"
    template = (
        "No session {id} among those you may see; `GET /v1/reps/{{rep_id}}/sessions` lists a rep's sessions."
    )


class ActionItemNotFoundError(NotFoundError):
    code = "action_item_not_found"
    title = "Action item not found"
    template = (
        "No action item {id} among those you may see; `GET /v1/reps/{{rep_id}}/action-items` lists a "
        "rep's items."
    )


class GoalLimitReachedError(ConflictError):
    """A rep already has the allowed number of active goals in an overlapping period."""

    code = "goal_limit_reached"
    title = "Goal limit reached"


class InvalidGoalError(UnprocessableError):
    code = "invalid_goal"
    title = "Invalid goal"


class TargetWorseThanBaselineError(InvalidGoalError):
    """A target below the baseline of a higher-is-better metric (above it for sales_cycle_days),
    without `allow_target_worse_than_baseline`. Carries `baseline`."""

    code = "target_worse_than_baseline"
    title = "Target worse than the baseline"


class GoalTransitionError(ConflictError):
    code = "goal_status_transition_refused"
    title = "Goal status change refused"


class InvalidSessionError(UnprocessableError):
    code = "invalid_session"
    title = "Invalid session"


class SessionClosedError(ConflictError):
    """The session is no longer scheduled: it was held, canceled or marked no-show."""

    code = "session_closed"
    title = "Session already closed"


class HoldRequirementsMissingError(UnprocessableError):
    """Holding needs an action item with a due date and a scheduled follow-up.

    The code names what is missing: `action_item_with_due_date_required`,
    `follow_up_required`, or `action_item_and_follow_up_required`.
    """

    code = "hold_requirements_missing"
    title = "Session cannot be closed as held"
    abstract = True


class ActionItemWithDueDateRequiredError(HoldRequirementsMissingError):
    code = "action_item_with_due_date_required"


class FollowUpRequiredError(HoldRequirementsMissingError):
    code = "follow_up_required"


class ActionItemAndFollowUpRequiredError(HoldRequirementsMissingError):
    code = "action_item_and_follow_up_required"


class NotAConsequenceSessionError(ConflictError):
    code = "not_a_consequence_session"
    title = "Only consequence sessions are acknowledged"


class InvalidActionItemError(UnprocessableError):
    code = "invalid_action_item"
    title = "Invalid action item"


class CompletedOnOutOfRangeError(InvalidActionItemError):
    """`completed_on` before the item existed or after today (in the org's zone): a back- or
    forward-dated completion would move willingness_to_change."""

    code = "completed_on_out_of_range"
    title = "Completion date out of range"


class CoachCancelsActionItemsError(ForbiddenError):
    """The rep canceling an item of their own: a canceled item leaves willingness_to_change, so a
    rep could erase a missed commitment; completing and reopening stay theirs."""

    code = "coach_cancels_action_items"
    title = "Only the coach cancels an action item"


class CoachOwnedActionItemError(ForbiddenError):
    """The rep changing the status of an item the coach owns (the coach's commitment)."""

    code = "coach_owned_action_item"
    title = "The coach's action item"


class InvalidOpportunityError(UnprocessableError):
    code = "invalid_opportunity_id"
    title = "Not an opportunity of this rep"
