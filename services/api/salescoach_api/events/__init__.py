"""The events feed: `/v1/events`."""
