"""Webhook endpoints and their delivery log: `/v1/webhooks`."""
