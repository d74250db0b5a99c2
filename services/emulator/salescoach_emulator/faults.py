"""Fault injection for tests: a small spec language, a seeded decision engine.

Spec (``--faults`` or ``POST /__emulator/faults``), comma-separated rules::

    KIND[=VALUE][@RATE][/PATH/PREFIX]

    seed=42            seed of the random draws (same seed + same request order = same faults)
    500@0.2  503@0.1   answer with that HTTP status at the rate
    delay=2.5@0.1      sleep that many seconds before answering (client timeouts)
    drop@0.05          close the connection without any response
    dropafter@0.05     handle the request (a write is applied), then close without the response
    limit=100          REQUEST_LIMIT_EXCEEDED once 100 more API calls have been made
    lock@0.5           UNABLE_TO_LOCK_ROW on writes (per record in collections)
    expire             invalidate every token issued so far (one-shot)
    expire@0.1         INVALID_SESSION_ID at the rate (and that token is revoked)
    querytimeout=5000  Bulk query jobs matching more than 5000 records end Failed with QUERY_TIMEOUT

RATE defaults to 1. A path suffix limits a rule to request paths starting with it, e.g.
``503@0.5/services/data/v62.0/jobs``.
"""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

_RULE_RE = re.compile(
    r"^(?P<kind>[a-z]+|\d{3})(?:=(?P<value>[0-9.]+))?(?:@(?P<rate>[0-9.]+))?(?P<path>/\S*)?$"
)
QUERY_TIMEOUT = "QUERY_TIMEOUT: Your query request was running for too long."
KINDS = frozenset({"seed", "status", "delay", "drop", "dropafter", "limit", "lock", "expire", "querytimeout"})


class FaultSpecError(ValueError):
    """A fault spec that does not parse."""


@dataclass(frozen=True)
class FaultRule:
    kind: str  # status, delay, drop, dropafter, lock, expire
    rate: float = 1.0
    status: int = 0
    seconds: float = 0.0
    path: str = ""

    def applies(self, path: str) -> bool:
        return path.startswith(self.path)


@dataclass
class FaultPlan:
    """Parsed spec: rules drawn per request, plus one-shot actions."""

    seed: int | None = None
    rules: list[FaultRule] = field(default_factory=list)
    limit_after: int | None = None
    expire_now: bool = False
    query_timeout_rows: int | None = None


def parse_spec(spec: str | None) -> FaultPlan:
    plan = FaultPlan()
    for raw in (spec or "").replace(";", ",").split(","):
        item = raw.strip()
        if not item:
            continue
        match = _RULE_RE.match(item)
        if match is None:
            raise FaultSpecError(f"bad fault rule: {item!r}")
        kind, value, path = match["kind"], match["value"], match["path"] or ""
        rate = float(match["rate"]) if match["rate"] else 1.0
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"rate must be within 0..1: {item!r}")
        if kind.isdigit():
            status = int(kind)
            if not 400 <= status <= 599:
                raise FaultSpecError(f"status must be 4xx or 5xx: {item!r}")
            plan.rules.append(FaultRule("status", rate, status=status, path=path))
        elif kind == "seed" and value is not None:
            plan.seed = int(float(value))
        elif kind == "delay" and value is not None:
            plan.rules.append(FaultRule("delay", rate, seconds=float(value), path=path))
        elif kind == "limit" and value is not None:
            plan.limit_after = int(float(value))
        elif kind == "querytimeout" and value is not None:
            plan.query_timeout_rows = int(float(value))
        elif kind in ("drop", "dropafter", "lock") and value is None:
            plan.rules.append(FaultRule(kind, rate, path=path))
        elif kind == "expire" and value is None:
            if match["rate"]:
                plan.rules.append(FaultRule("expire", rate, path=path))
            else:
                plan.expire_now = True
        else:
            raise FaultSpecError(f"bad fault rule: {item!r} (kinds: {sorted(KINDS)})")
    return plan


@dataclass(frozen=True)
class Decision:
    """What to do to one request."""

    status: int = 0
    delay: float = 0.0
    drop: bool = False
    expire: bool = False
    lock: bool = False
    drop_after: bool = False


class FaultEngine:
    """Draws faults for each request from a seeded generator, in arrival order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spec = ""
        self.plan = FaultPlan()
        # Reproducible draws are the point here, not unpredictability.
        self._rng = random.Random(0)  # noqa: S311

    def configure(self, spec: str) -> FaultPlan:
        plan = parse_spec(spec)
        with self._lock:
            self.spec = spec
            self.plan = plan
            self._rng = random.Random(plan.seed)  # noqa: S311
        return plan

    def decide(self, path: str, *, is_write: bool) -> Decision:
        status, delay, drop, expire, lock, drop_after = 0, 0.0, False, False, False, False
        with self._lock:
            for rule in self.plan.rules:
                if not rule.applies(path):
                    continue
                if rule.kind == "lock" and not is_write:
                    continue
                # One draw per applicable rule keeps the sequence reproducible per seed.
                hit = self._rng.random() < rule.rate
                if not hit:
                    continue
                if rule.kind == "status" and not status:
                    status = rule.status
                elif rule.kind == "delay":
                    delay += rule.seconds
                elif rule.kind == "drop":
                    drop = True
                elif rule.kind == "dropafter":
                    drop_after = True
                elif rule.kind == "expire":
                    expire = True
                elif rule.kind == "lock":
                    lock = True
        return Decision(status, delay, drop, expire, lock, drop_after)

    def draw_lock(self, path: str) -> bool:
        """Per-record UNABLE_TO_LOCK_ROW draw for sObject collections."""
        with self._lock:
            for rule in self.plan.rules:
                if rule.kind == "lock" and rule.applies(path):
                    return self._rng.random() < rule.rate
        return False

    def query_times_out(self, rows: int) -> bool:
        """The ``querytimeout`` rule: whether a Bulk query matching ``rows`` records fails."""
        limit = self.plan.query_timeout_rows
        return limit is not None and rows > limit
