"""Efficiencies, what-if scenarios and trends (docs/metrics.md)."""
