"""Rep and team scorecards."""
