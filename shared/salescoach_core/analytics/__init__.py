"""Efficiencies behind the scorecard (loss analysis, stage conversion, pipeline health), what-if
scenarios and metric trends (docs/domain.md, "Efficiencies" and "What-if scenarios")."""
