"""Data-subject request steps for any service's integration tests: publish an export or
deletion request as privacy-orchestrator would, wait for this service's answer, open the
sealed export. (Shared by every data-holding service's DSAR tests.)"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from summit_common.privacy import new_keypair, open_sealed
from summit_contracts import new_event
from summit_contracts.events.privacy import ExportAnswered
from tests.helpers import eventually, read_subject


def subject(*refs: tuple[str, str]) -> dict[str, Any]:
    return {"refs": [{"system": system, "id": id_} for system, id_ in refs]}


async def _publish(bus, runtime, type_: str, data: dict[str, Any], tenant: str) -> None:
    event = new_event(type_, data, source="privacy-orchestrator", tenantid=tenant)
    await bus.publish(runtime.naming.subject(type_), event.to_json(), headers={"Nats-Msg-Id": event.msg_id})


async def _answer(bus, runtime, type_: str, key: str, value: str) -> dict[str, Any]:
    async def mine():
        msgs = await read_subject(bus, runtime.naming.stream("privacy"), runtime.naming.subject(type_), settle=0.1)
        found = [d for d in (json.loads(m.data)["data"] for m in msgs) if d[key] == value]
        return found[0] if found else None

    return await eventually(mine, timeout=30)


async def export_records(bus, runtime, tenant: str, refs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list]]:
    """(the answer as published, the opened records {category: [record]}) for one export request."""
    private, public = new_keypair()
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    await _publish(bus, runtime, "privacy.export.requested.v1", {
        "job_id": job_id, "subject": refs, "reply_public_key": public, "requested_at": datetime.now(UTC)}, tenant)
    answer = await _answer(bus, runtime, "privacy.export.answered.v1", "job_id", job_id)
    assert answer["status"] == "ok", answer
    opened = json.loads(open_sealed(private, ExportAnswered.model_validate(answer).sealed))
    assert opened["service"] == runtime.service.name
    return answer, opened["records"]


async def erase(bus, runtime, tenant: str, refs: dict[str, Any]) -> dict[str, int]:
    """The deleted counts of one (successful) deletion request."""
    request_id = f"del-{uuid.uuid4().hex[:8]}"
    await _publish(bus, runtime, "privacy.deletion.requested.v1", {
        "request_id": request_id, "subject": refs, "requested_at": datetime.now(UTC)}, tenant)
    confirmed = await _answer(bus, runtime, "privacy.deletion.confirmed.v1", "request_id", request_id)
    assert confirmed["status"] == "ok", confirmed
    return confirmed["deleted_counts"]
