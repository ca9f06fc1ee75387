"""Metrics -> partner payload, one pure function per platform, plus the field-level diff the
mapping preview shows. The payload depends only on the metrics snapshot, the connection's
non-secret settings and the idempotency key, so a replay sends byte-identical content."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

BENEVITY, GOODERA, WORKDAY = "benevity", "goodera", "workday"
PLATFORMS = (BENEVITY, GOODERA, WORKDAY)
PAYLOAD_TYPE = "impact_metrics"
DEFAULT_CURRENCY = "EUR"  # the impact-calculator's proxies are in EUR (not carried by the event)


def _round(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def _company(metrics: dict[str, Any], settings: dict[str, Any], key: str) -> str:
    return str(settings.get(key) or metrics["company_id"])


def to_benevity(metrics: dict[str, Any], settings: dict[str, Any], key: str) -> dict[str, Any]:
    currency = settings.get("currency") or DEFAULT_CURRENCY
    items = [{"type": "SOCIAL_VALUE", "value": _round(metrics["social_value"], 2), "unit": currency},
             {"type": "VOLUNTEER_IMPACT_SCORE", "value": _round(metrics["vis_score"], 2), "unit": "score_0_100"}]
    if metrics.get("sroi_ratio") is not None:
        items.append({"type": "SROI_RATIO", "value": _round(metrics["sroi_ratio"]), "unit": "ratio"})
    if metrics.get("investment") is not None:
        items.append({"type": "INVESTMENT", "value": _round(metrics["investment"], 2), "unit": currency})
    return {
        "externalReference": key,
        "companyId": _company(metrics, settings, "company_ref"),
        "reportingPeriod": metrics["period"],
        "metrics": items,
        "source": {"system": "summit", "metricId": metrics["metric_id"], "configVersion": metrics["config_version"],
                   "computedAt": metrics["computed_at"]},
    }


def to_goodera(metrics: dict[str, Any], settings: dict[str, Any], key: str) -> dict[str, Any]:
    currency = settings.get("currency") or DEFAULT_CURRENCY
    return {
        "client_reference_id": key,
        "organization_id": _company(metrics, settings, "company_ref"),
        "period": metrics["period"],
        "impact": {
            "sroi_ratio": _round(metrics.get("sroi_ratio")),
            "social_value": {"amount": _round(metrics["social_value"], 2), "currency": currency},
            "investment": None if metrics.get("investment") is None
            else {"amount": _round(metrics["investment"], 2), "currency": currency},
            "volunteer_impact_score": _round(metrics["vis_score"], 2),
        },
        "metadata": {"metric_id": metrics["metric_id"], "config_version": metrics["config_version"],
                     "computed_at": metrics["computed_at"]},
    }


def to_workday(metrics: dict[str, Any], settings: dict[str, Any], key: str) -> dict[str, Any]:
    """Flat fields of the Put_Impact_Metrics_Request body (element names in Workday style)."""
    return {
        "External_Reference_ID": key,
        "Organization_Reference_ID": _company(metrics, settings, "company_ref"),
        "Period": metrics["period"],
        "SROI_Ratio": _round(metrics.get("sroi_ratio")),
        "Social_Value": _round(metrics["social_value"], 2),
        "Investment": _round(metrics.get("investment"), 2),
        "Currency": settings.get("currency") or DEFAULT_CURRENCY,
        "Volunteer_Impact_Score": _round(metrics["vis_score"], 2),
        "Source_Metric_ID": metrics["metric_id"],
        "Config_Version": metrics["config_version"],
        "Computed_At": metrics["computed_at"],
    }


MAPPERS: dict[str, Callable[[dict[str, Any], dict[str, Any], str], dict[str, Any]]] = {
    BENEVITY: to_benevity, GOODERA: to_goodera, WORKDAY: to_workday,
}


def map_payload(platform: str, metrics: dict[str, Any], settings: dict[str, Any], key: str) -> dict[str, Any]:
    return MAPPERS[platform](metrics, settings, key)


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or ({prefix: {}} if prefix else {})
    if isinstance(value, list):
        out = {}
        types = [v.get("type") for v in value if isinstance(v, dict)]
        keyed = len(types) == len(value) and None not in types and len(set(types)) == len(types)
        for i, v in enumerate(value):
            # Lists of typed items (Benevity metrics) are matched by type, not position.
            out.update(_flatten(v, f"{prefix}[{v['type'] if keyed else i}]"))
        return out or {prefix: []}
    return {prefix: value}


def diff(before: dict[str, Any] | None, after: dict[str, Any]) -> list[dict[str, Any]]:
    """Field-level differences (dotted paths; list items in brackets by index, or by `type` when
    every item has a distinct one), sorted by path."""
    old, new = _flatten(before or {}), _flatten(after)
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path not in old:
            changes.append({"path": path, "change": "added", "before": None, "after": new[path]})
        elif path not in new:
            changes.append({"path": path, "change": "removed", "before": old[path], "after": None})
        elif old[path] != new[path]:
            changes.append({"path": path, "change": "changed", "before": old[path], "after": new[path]})
    return changes
