"""Event handler: impact.metrics.updated.v1 -> one pending delivery per enabled connection of
the company (= the event's tenant), in the batch's transaction. No network I/O here: the
delivery worker pushes. Consumes impact.metrics.updated.v1; emits nothing."""

from __future__ import annotations

from services.impact_in import context, store
from services.impact_in.domain import mappers, retry
from summit_common import UnitOfWork
from summit_common.consumer import Incoming, PermanentError
from summit_contracts.events.impact import MetricsUpdated
from summit_contracts.ids import new_id

METRICS_UPDATED = "impact.metrics.updated.v1"


async def on_metrics_updated(event: Incoming[MetricsUpdated], uow: UnitOfWork) -> None:
    data, tenant = event.data, event.tenant
    if data.company_id != tenant:
        # impact-calculator publishes a company's figures under its own tenant; anything else
        # would deliver one company's figures with another company's partner credentials.
        raise PermanentError("company_id differs from the event's tenant")
    metrics = data.model_dump(mode="json")
    await store.keep_latest_metrics(uow.conn, tenant=tenant, period=data.period, metric_id=data.metric_id,
                                    computed_at=data.computed_at, metrics=metrics)
    now = context.utc_now()
    # Due since the figures were computed (never later than now): older figures go out first,
    # and the worker's clock, not this one, decides what is due.
    due = min(now, data.computed_at)
    for platform in await store.enabled_platforms(uow.conn, tenant=tenant):
        key = retry.idempotency_key(tenant, platform, data.metric_id, data.computed_at)
        await store.insert_delivery(uow.conn, delivery_id=new_id(), tenant=tenant, platform=platform,
                                    payload_type=mappers.PAYLOAD_TYPE, key=key, period=data.period,
                                    metric_id=data.metric_id, event_id=event.envelope.id, metrics=metrics, now=now, due=due)


def lock_order(event) -> str:
    """Batches insert deliveries in one order, so concurrent consumers do not deadlock."""
    return f"{event.envelope.tenantid}/{getattr(event.data, 'period', '')}"
