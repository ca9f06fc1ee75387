"""One trace follows an event across services: traceparent in, spans, traceparent out."""

from __future__ import annotations

import json

import nats
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from summit_common.runtime import ServiceRuntime
from summit_contracts import new_event
from tests.helpers import read_subject
from tests.integration.probe_service import make_service

pytestmark = pytest.mark.integration

EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module", autouse=True)
def sdk_tracer():
    """An SDK tracer for this module only; the no-op default is restored afterwards, as
    OpenTelemetry's own test helpers do, so later tests see an unconfigured process."""
    from opentelemetry.util._once import Once

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    trace.set_tracer_provider(provider)
    yield
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None


async def test_traceparent_flows_from_incoming_to_emitted_event(settings):
    runtime = ServiceRuntime(make_service(), settings)
    await runtime.start()
    nc = await nats.connect(settings.nats_url)
    try:
        trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
        parent_span = "00f067aa0ba902b7"
        event = new_event("probe.item.recorded.v1", {"item_id": "traced", "value": 1}, source="test", tenantid="acme",
                          traceparent=f"00-{trace_id}-{parent_span}-01")
        await nc.jetstream().publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": event.msg_id})
        out = await read_subject(nc.jetstream(), runtime.naming.stream("probe"), runtime.naming.subject("probe.item.stored.v1"), at_least=1)
        emitted = json.loads(out[0].data)
        assert emitted["traceparent"].split("-")[1] == trace_id
        assert out[0].headers["traceparent"] == emitted["traceparent"]
        handle = [s for s in EXPORTER.get_finished_spans() if s.name == "handle probe.item.recorded.v1"]
        assert handle and format(handle[0].context.trace_id, "032x") == trace_id
        assert format(handle[0].parent.span_id, "016x") == parent_span
        assert emitted["traceparent"].split("-")[2] == format(handle[0].context.span_id, "016x")
    finally:
        await nc.close()
        await runtime.stop()
