"""Generating, viewing and exporting reports: the I/O around the pure narrative, citation,
redaction and rendering functions. Shared by the HTTP routes and the scheduler."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.reporting import charts, domain, render_pdf, render_pptx, store
from services.reporting.generators import GenerationRefused, Generator
from summit_common.problems import Problem
from summit_contracts.ids import new_id

DEFAULT_THEME = {"primary_color": "#1F4E79", "secondary_color": "#F28E2B", "logo_png": None}
RATE_WINDOW = timedelta(hours=1)


def default_seed(tenant: str, period: str, template: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{tenant}|{period}|{template}".encode()).digest()[:4], "big")


def _unprocessable(title: str, detail: str) -> Problem:
    return Problem(422, title, detail)


async def generate(conn: asyncpg.Connection, *, generator: Generator, tenant: str, period: str, template: str,
                   seed: int | None, by: str, now: datetime, per_hour: int | None) -> dict[str, Any]:
    """Generate and store a draft inside the caller's transaction; raises Problem (nothing stored)."""
    bounds = domain.period_bounds(period)
    if bounds is None:
        raise _unprocessable("invalid period", f"period {period!r} is not YYYY, YYYY-Qn or YYYY-MM")
    if per_hour is not None:
        await store.lock_tenant(conn, tenant, "generate")
        recent = await store.generations_since(conn, tenant=tenant, since=now - RATE_WINDOW)
        if len(recent) >= per_hour:
            wait = max(1, math.ceil((recent[0] + RATE_WINDOW - now).total_seconds()))
            raise Problem(429, "too many generations", f"at most {per_hour} report generations per hour per company",
                          headers={"Retry-After": str(wait)})
    metrics_row = await store.latest_metrics(conn, tenant=tenant, period=period)
    metrics = _metrics_view(metrics_row) if metrics_row else None
    rows = await store.evidence_in(conn, tenant=tenant, start=bounds[0], end=bounds[1])
    # PII is redacted before generation, whatever the generator is.
    evidence = [domain.Evidence(evidence_id=r["evidence_id"], snippet=domain.redact(r["snippet"]),
                                snippet_sha256=r["snippet_sha256"], dimensions=tuple(r["dimensions"]), program=r["program"])
                for r in rows]
    seed = default_seed(tenant, period, template) if seed is None else seed
    try:
        out = await generator.generate(template=template, period=period, metrics=metrics, evidence=evidence, seed=seed)
    except GenerationRefused as exc:
        raise _unprocessable("generation refused", str(exc)) from None
    cited = domain.cited_ids(out.sections)
    known = await store.evidence_by_ids(conn, tenant=tenant, ids=cited)
    problems = domain.citation_problems(out.sections, set(known))
    if problems:
        raise _unprocessable("invalid citations", "; ".join(problems[:5]))
    hits = domain.narrative_pii(out.sections)
    if hits:
        raise _unprocessable("personal data in generated text", f"the generated narrative contains: {', '.join(hits)}")
    report = {
        "report_id": new_id(), "tenant_id": tenant, "period": period, "template": template, "sections": out.sections,
        "charts": out.charts, "cited_evidence": cited,
        "evidence_hash": domain.evidence_hash(known[c]["snippet_sha256"] for c in cited),
        "metrics": metrics, "generator": out.generator, "prompt_version": out.prompt_version, "seed": seed,
        "tokens_in": out.tokens_in, "tokens_out": out.tokens_out, "cost": out.cost, "created_by": by, "created_at": now,
    }
    await store.insert_report(conn, report)
    if per_hour is not None:
        await store.log_generation(conn, tenant=tenant, at=now)
    return report


def _metrics_view(row) -> dict[str, Any]:
    return {k: row[k] for k in ("metric_id", "sroi_ratio", "social_value", "investment", "vis_score", "config_version")} | {
        "computed_at": row["computed_at"].isoformat()}


def provenance(row) -> dict[str, str]:
    return {"source_type": row["source_type"], "source_id": row["source_id"], "evidence_id": row["evidence_id"],
            "q2q_url": f"/v1/evidence/{row['evidence_id']}"}


async def view(conn: asyncpg.Connection, row, *, sensitive: bool = True) -> dict[str, Any]:
    """The API shape of a stored report; evidence previews only when `sensitive`."""
    cited = list(row["cited_evidence"])
    found = await store.evidence_by_ids(conn, tenant=row["tenant_id"], ids=cited)
    evidence = []
    for ev_id in cited:
        ev = found.get(ev_id)
        item: dict[str, Any] = {"evidence_id": ev_id}
        if ev is not None:
            item |= {"snippet_sha256": ev["snippet_sha256"], "provenance": provenance(ev),
                     "preview": domain.preview(domain.redact(ev["snippet"])) if sensitive else None,
                     "redacted": not sensitive}
        evidence.append(item)
    return {
        "report_id": str(row["report_id"]), "company_id": row["tenant_id"], "period": row["period"],
        "template": row["template"], "status": row["status"], "sections": _json(row["sections"]),
        "charts": _json(row["charts"]), "evidence": evidence, "evidence_hash": row["evidence_hash"],
        "metrics": _json(row["metrics"]) if row["metrics"] is not None else None,
        "generator": row["generator"], "prompt_version": row["prompt_version"], "seed": row["seed"],
        "telemetry": {"tokens_in": row["tokens_in"], "tokens_out": row["tokens_out"], "cost": row["cost"]},
        "created_by": row["created_by"], "created_at": row["created_at"].isoformat(),
        "approved_by": row["approved_by"], "approved_at": row["approved_at"].isoformat() if row["approved_at"] else None,
    }


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


async def theme_of(conn: asyncpg.Connection, tenant: str) -> dict[str, Any]:
    row = await store.get_theme(conn, tenant)
    if row is None:
        return dict(DEFAULT_THEME)
    return {"primary_color": row["primary_color"], "secondary_color": row["secondary_color"], "logo_png": row["logo_png"]}


def theme_view(theme: dict[str, Any]) -> dict[str, Any]:
    logo = theme.get("logo_png")
    return {"primary_color": theme["primary_color"], "secondary_color": theme["secondary_color"],
            "logo_png_base64": base64.b64encode(logo).decode() if logo else None}


def _render(fmt: str, report: dict[str, Any], theme: dict[str, Any]) -> bytes:
    pictures = charts.render_all(report, theme)
    report = report | {"id": report["report_id"]}
    return render_pdf.render(report, theme, pictures) if fmt == "pdf" else render_pptx.render(report, theme, pictures)


# Bump when the rendered files change for the same inputs (layout, charts): it is part of the ETag.
RENDERER_VERSION = "1"


class Export:
    """What an export is rendered from; its fingerprint names the file before rendering it."""

    def __init__(self, fmt: str, report: dict[str, Any], theme: dict[str, Any]) -> None:
        self.fmt, self.report, self.theme = fmt, report, theme

    @property
    def fingerprint(self) -> str:
        logo = self.theme.get("logo_png")
        inputs = {"fmt": self.fmt, "renderer": RENDERER_VERSION, "report": self.report,
                  "theme": {**self.theme, "logo_png": hashlib.sha256(logo).hexdigest() if logo else None}}
        return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()

    async def render(self) -> bytes:
        # CPU-bound rendering off the event loop.
        return await asyncio.to_thread(_render, self.fmt, self.report, self.theme)


async def export(conn: asyncpg.Connection, row, fmt: str) -> Export:
    return Export(fmt, await view(conn, row), await theme_of(conn, row["tenant_id"]))
