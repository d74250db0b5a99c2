"""Errors of the analytics endpoints, each with a stable code (docs/errors.md)."""

from __future__ import annotations

from salescoach_core.errors import UnprocessableError


class InvalidTrendError(UnprocessableError):
    code = "invalid_trend"
    title = "Invalid trend request"


class InvalidScenarioError(UnprocessableError):
    """A what-if change that would project an impossible value (a negative deal size, a win rate
    above 1). Carries `errors[]` with the field path of each offending change."""

    code = "invalid_scenario"
    title = "Invalid what-if scenario"
