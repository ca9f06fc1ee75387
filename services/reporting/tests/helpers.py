from __future__ import annotations

import hashlib

from summit_common.auth import mint_token
from summit_contracts import new_event


def auth(settings, tenant="acme", roles=("company_user",), sub="u1"):
    return {"Authorization": f"Bearer {mint_token(settings.jwt_secret, sub=sub, tenant=tenant, roles=list(roles))}"}


async def publish(js, runtime, event, msg_id=None):
    await js.publish(runtime.naming.subject(event.type), event.to_json(), headers={"Nats-Msg-Id": msg_id or event.msg_id})
    return event


def evidence(ev_id, *, tenant="acme", participant="P-1", program="buddy", dims=("confidence",),
             when="2026-02-10T10:00:00+00:00", snippet=None, sha=None):
    text = snippet or f"I feel more confident speaking at work ({ev_id})."
    return new_event("q2q.evidence.recorded.v1", {
        "evidence_id": ev_id, "participant": {"system": "kintell", "id": participant}, "program": program,
        "snippet": text, "snippet_sha256": sha or hashlib.sha256(text.encode()).hexdigest(), "dimensions": list(dims),
        "source_type": "kintell.session.completed.v1", "source_id": f"S-{ev_id}", "observed_at": when,
    }, source="q2q-ai", tenantid=tenant)


def metrics(metric_id="m-1", *, tenant="acme", period="2026-Q1", vis=50.0, social=1000.0, investment=None,
            computed="2026-03-01T00:00:00+00:00"):
    return new_event("impact.metrics.updated.v1", {
        "company_id": tenant, "period": period, "metric_id": metric_id, "sroi_ratio": social / investment if investment else None,
        "social_value": social, "investment": investment, "vis_score": vis, "config_version": "2026.1",
        "computed_at": computed}, source="impact-calculator", tenantid=tenant)
