"""OpenTelemetry: one SDK tracer provider per process; OTLP export only when configured."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_configured = False


def active() -> bool:
    """True when spans are recorded (an SDK provider is installed). Without one, the chassis
    skips span bookkeeping altogether (~20 us per event) and passes traceparent through."""
    return _configured or isinstance(trace.get_tracer_provider(), TracerProvider)


def configure_tracing(service_name: str, otlp_endpoint: str = "") -> None:
    """Without an exporter the API's no-op tracer is kept: spans cost nothing, and the
    incoming traceparent still flows into emitted events and log lines."""
    global _configured
    if _configured or not otlp_endpoint:
        return
    _configured = True
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    except ImportError as exc:  # optional extra: pip install '.[otlp]'
        raise RuntimeError("OTLP export needs the 'otlp' extra: pip install -e '.[otlp]'") from exc
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    trace.set_tracer_provider(provider)
