"""Coaching goals: `/v1/reps/{rep_id}/goals` and `/v1/goals/{goal_id}`."""
