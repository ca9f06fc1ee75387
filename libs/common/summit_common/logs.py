"""structlog JSON logs. Lines carry ids (service, event, tenant, correlation, trace), never payloads."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import Any

import structlog

_configured = False
# The event a handler is working on: ONE context variable set per event (cheap), expanded into
# ids by a log processor only when a line is actually written.
handling: ContextVar[tuple[Any, str | None] | None] = ContextVar("summit_handling", default=None)


def add_event_ids(_logger, _method: str, event_dict: dict) -> dict:
    current = handling.get()
    if current is not None:
        envelope, trace_id = current
        for key, value in (("event_id", envelope.id), ("event_type", envelope.type), ("tenant", envelope.tenantid),
                           ("correlation_id", envelope.correlationid), ("trace_id", trace_id)):
            event_dict.setdefault(key, value)
    return event_dict


def configure_logging(level: str = "INFO") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    numeric = logging.getLevelName(level.upper()) if isinstance(level, str) else level
    logging.basicConfig(stream=sys.stderr, level=numeric, format="%(message)s")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            add_event_ids,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(**bound) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(**bound)
