"""Errors of webhook subscriptions, each with the stable code the API answers with."""

from __future__ import annotations

from salescoach_core.errors import NotFoundError, UnprocessableError


class WebhookNotFoundError(NotFoundError):
    code = "webhook_not_found"
    title = "Webhook not found"
    template = "No webhook {id}; `GET /v1/webhooks` lists them."


class DeliveryNotFoundError(NotFoundError):
    code = "webhook_delivery_not_found"
    title = "Webhook delivery not found"


class InvalidWebhookError(UnprocessableError):
    code = "invalid_webhook"
    title = "Invalid webhook"


class WebhookUrlNotAllowedError(UnprocessableError):
    """The URL is well formed but points at an address webhooks may not reach (SSRF policy)."""

    code = "webhook_url_not_allowed"
    title = "Webhook URL not allowed"
