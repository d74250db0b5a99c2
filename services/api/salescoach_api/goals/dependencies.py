"""Shared by the coaching routers: who acts, as recorded in goal and session histories."""

from __future__ import annotations

from salescoach_core.access import Principal


def actor_of(principal: Principal) -> str:
    """How a change's author is recorded: the credential kind and its stable subject."""
    return f"{principal.kind}:{principal.subject}"
