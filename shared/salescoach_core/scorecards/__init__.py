"""Rep and team scorecards: every metric of domain.md, computed from the synced tables."""
