"""Rep and team scorecards: every metric of docs/domain.md, computed from the synced tables."""
