"""`/v1/webhooks`: endpoints (admin), their delivery log and redelivery. Sending happens in the
delivery worker (salescoach_core.integrations.delivery), never in these requests."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends, Response, status

from salescoach_api.auth.policy import Access, requires, v1_router
from salescoach_api.dependencies import DbSessionDep, NowDep, ReadSessionDep, SettingsDep
from salescoach_api.pagination import Page, SortedPagination, Sorting
from salescoach_api.webhooks.schemas import DeliveryPublic, WebhookCreate, WebhookCreated, WebhookPublic
from salescoach_core.integrations import webhooks
from salescoach_core.models.integrations import WebhookDelivery, WebhookEndpoint

router = v1_router(prefix="/v1", tags=["webhooks"])

WEBHOOK_SORTING = Sorting(
    name="webhooks",
    id_column=WebhookEndpoint.id,
    fields={"created_at": WebhookEndpoint.created_at},
    default="created_at",
)
# A log: newest first.
DELIVERY_SORTING = Sorting(
    name="webhook_deliveries",
    id_column=WebhookDelivery.id,
    fields={"created_at": WebhookDelivery.created_at},
    default="-created_at",
)


def endpoint_of(db_session: DbSessionDep, webhook_id: uuid.UUID) -> WebhookEndpoint:
    return webhooks.get_endpoint(db_session, webhook_id)


Endpoint = Annotated[WebhookEndpoint, Depends(endpoint_of)]


@router.post(
    "/webhooks",
    operation_id="createWebhook",
    status_code=status.HTTP_201_CREATED,
    dependencies=[requires(Access.ADMIN)],
)
def create_webhook(
    db_session: DbSessionDep, settings: SettingsDep, now: NowDep, body: WebhookCreate
) -> WebhookCreated:
    """Subscribe a URL to event types. The answer holds the signing secret, once."""
    endpoint = webhooks.create_endpoint(
        db_session,
        url=body.url,
        event_types=body.event_types,
        secret=body.secret,
        description=body.description,
        allow_private_targets=settings.webhook_allow_private_targets,
        now=now,
    )
    return WebhookCreated.of(endpoint)


@router.get("/webhooks", operation_id="listWebhooks", dependencies=[requires(Access.ADMIN)])
def list_webhooks(
    db_session: ReadSessionDep, page: Annotated[SortedPagination, WEBHOOK_SORTING.depends()]
) -> Page[WebhookPublic]:
    """Every endpoint, oldest first unless `sort` says otherwise (secrets are never listed)."""
    rows = webhooks.list_endpoints(db_session, keyset=page.keyset())
    return page.page(rows, public=WebhookPublic.of)


@router.get("/webhooks/{webhook_id}", operation_id="getWebhook", dependencies=[requires(Access.ADMIN)])
def get_webhook(endpoint: Endpoint) -> WebhookPublic:
    return WebhookPublic.of(endpoint)


@router.delete(
    "/webhooks/{webhook_id}",
    operation_id="deleteWebhook",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    dependencies=[requires(Access.ADMIN)],
)
def delete_webhook(db_session: DbSessionDep, endpoint: Endpoint) -> None:
    """Stop sending to the endpoint; its pending deliveries and its log are removed."""
    webhooks.delete_endpoint(db_session, endpoint)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    operation_id="listWebhookDeliveries",
    dependencies=[requires(Access.ADMIN)],
)
def list_deliveries(
    db_session: ReadSessionDep,
    endpoint: Endpoint,
    page: Annotated[SortedPagination, DELIVERY_SORTING.depends()],
) -> Page[DeliveryPublic]:
    """The endpoint's delivery log, newest first unless `sort` says otherwise: status, attempts,
    last response code or error."""
    rows = webhooks.list_deliveries(db_session, endpoint=endpoint, keyset=page.keyset())
    return page.page(rows, public=DeliveryPublic.of)


@router.post(
    "/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
    operation_id="redeliverWebhookDelivery",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[requires(Access.ADMIN)],
)
def redeliver(
    db_session: DbSessionDep, endpoint: Endpoint, now: NowDep, delivery_id: uuid.UUID
) -> DeliveryPublic:
    """Queue the delivery's event again (same event id, so the same `webhook-id`); the worker
    sends it on its next pass."""
    return DeliveryPublic.of(
        webhooks.redeliver(db_session, endpoint=endpoint, delivery_id=delivery_id, now=now)
    )
