"""Coaching sessions, action items, the rep's plan and the skill-or-will diagnosis."""
