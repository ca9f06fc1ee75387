"""Prometheus metrics, one registry per service instance (tests run several in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Metrics:
    def __init__(self, service: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"service": service}
        self.handled = Counter("summit_events_handled", "Events handled", ["type"], registry=self.registry).labels
        self.failed = Counter("summit_events_failed", "Handler failures (each attempt)", ["type"], registry=self.registry).labels
        self.dead_lettered = Counter(
            "summit_events_dead_lettered", "Events sent to the dead-letter stream", ["reason"], registry=self.registry
        ).labels
        self.duplicates = Counter("summit_events_duplicate", "Redelivered events skipped by the inbox", registry=self.registry)
        self.handler_seconds = Histogram(
            "summit_handler_seconds",
            "Time to handle one pulled batch, per event",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
            registry=self.registry,
        )
        self.pending = Gauge("summit_consumer_pending", "Messages pending on the durable consumer", ["consumer"], registry=self.registry).labels
        self.outbox_backlog = Gauge("summit_outbox_backlog", "Outbox rows not yet published", registry=self.registry)
        self.outbox_age = Gauge("summit_outbox_oldest_age_seconds", "Age of the oldest unsent outbox row", registry=self.registry)
        self.outbox_published = Counter("summit_outbox_published", "Outbox rows published", registry=self.registry)
        self.http_requests = Counter(
            "summit_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        ).labels
        self.info = Gauge("summit_service_info", "Service identity", ["service"], registry=self.registry)
        self.info.labels(**labels).set(1)
