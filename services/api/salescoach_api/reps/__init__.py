"""Reps, teams and orgs."""
