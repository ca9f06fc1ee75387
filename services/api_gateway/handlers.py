"""Event handlers of the api-gateway.

gateway.membership.changed.v1 (its own event, consumed back): drop the membership from the
SHARED cache (Redis) once, with the chassis's inbox, retries and dead-lettering. In-process
caches are not reachable from here (the durable consumer hands each event to one replica
only); every replica's broadcast subscription (gateway.py) drops those.
"""

from __future__ import annotations

from redis.asyncio import Redis

from services.api_gateway.cache import RedisCache
from services.api_gateway.config import GatewaySettings
from services.api_gateway.gateway import membership_key, namespace, shared_cache_url
from summit_common import UnitOfWork
from summit_common.consumer import Incoming, PermanentError
from summit_contracts.events.gateway import MembershipChanged


async def on_membership_changed(event: Incoming[MembershipChanged], uow: UnitOfWork) -> None:
    data = event.data
    if data.company_id != event.tenant:
        # The company is the tenant: an event that says otherwise is not one the gateway made.
        raise PermanentError(f"company_id {data.company_id!r} differs from the event's tenant {event.tenant!r}")
    schema = await uow.conn.fetchval("SELECT current_schema()")
    url = shared_cache_url(schema)
    if not url:
        return
    client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        cache = RedisCache(client, namespace=f"{namespace(schema)}:m", ttl=GatewaySettings().membership_ttl_seconds)
        await cache.invalidate([membership_key(data.company_id, data.user_id)])  # a failure is retried by the chassis
    finally:
        await client.aclose()
