"""The read replica as `/readyz` and `/metrics` show it."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from pydantic import BaseModel, Field

from salescoach_core.database.replica import ReadReplica, ReplicaCondition, ReplicaState


class ReplicaReadiness(BaseModel):
    """The read replica at the last check (at most a second old). Not part of readiness: the
    API serves everything from the primary when the replica lags or is away."""

    condition: ReplicaCondition = Field(
        description="`in_use`: reads go to it; `lagging`: past the bound (or lag unknown), reads go to "
        "the primary; `unreachable`; `not_a_standby`: the server is not in recovery (promoted?)."
    )
    lag_seconds: float | None = Field(description="Replay lag; 0 when caught up; null when unknown.")
    max_lag_seconds: float = Field(description="SALESCOACH_REPLICA_MAX_LAG_SECONDS.")

    @staticmethod
    def of(state: ReplicaState) -> ReplicaReadiness:
        return ReplicaReadiness(
            condition=state.condition, lag_seconds=state.lag_seconds, max_lag_seconds=state.max_lag_seconds
        )


class ReplicaCollector(Collector):
    """`salescoach_replica_lag_seconds`, `salescoach_replica_in_use` and
    `salescoach_replica_reads_total{served_by}` at scrape time."""

    def __init__(self, replica: ReadReplica) -> None:
        self._replica = replica

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        state = self._replica.state()
        if state.lag_seconds is not None:
            yield GaugeMetricFamily(
                "salescoach_replica_lag_seconds",
                "Replay lag of the read replica at the last check (0: caught up with the primary).",
                value=state.lag_seconds,
            )
        yield GaugeMetricFamily(
            "salescoach_replica_in_use",
            "1 while reads go to the read replica; 0 while it lags past the bound or is unreachable.",
            value=1.0 if state.usable else 0.0,
        )
        reads = CounterMetricFamily(
            "salescoach_replica_reads",
            "Replica-eligible reads, by the server that served them (`primary`: the replica's fallback).",
            labels=["served_by"],
        )
        for served_by, count in self._replica.served().items():
            reads.add_metric([served_by], count)
        yield reads
