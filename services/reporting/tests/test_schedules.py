"""Scheduled reports: the scheduler tick (injected time) renders the PDF and mails it to a
local SMTP server; failures are recorded and retried with backoff; manual retry."""

from __future__ import annotations

import email
import socket
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller

from services.reporting import scheduler
from services.reporting.tests.helpers import auth, evidence, publish
from tests.helpers import eventually

pytestmark = pytest.mark.integration


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append((envelope.rcpt_tos, email.message_from_bytes(envelope.content)))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


async def runs(client, settings, schedule_id):
    r = await client.get(f"/v1/schedules/{schedule_id}/runs", headers=auth(settings))
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_due_schedule_mails_the_pdf_then_failures_retry(runtime, bus, client, settings, clock, smtp, reporting_settings):
    controller, inbox = smtp
    runtime.app.state.reporting_settings = reporting_settings.model_copy(update={"smtp_port": controller.port})
    for i in range(3):
        await publish(bus, runtime, evidence(f"ev-{i}", when=f"2026-03-0{i + 1}T10:00:00+00:00"))

    async def ready():
        return len((await client.get("/v1/evidence", headers=auth(settings))).json()["items"]) == 3
    await eventually(ready, timeout=30)

    r = await client.post("/v1/schedules", json={"template": "quarterly", "frequency": "monthly",
                                                  "recipients": ["cfo@acme.example", "ceo@acme.example"], "format": "pdf"},
                          headers=auth(settings))
    assert r.status_code == 201, r.text
    schedule = r.json()
    assert schedule["next_run_at"] == "2026-04-01T00:00:00+00:00" and schedule["status"] == "active"

    assert await scheduler.tick(runtime, datetime(2026, 3, 31, 23, tzinfo=UTC)) == {"runs_created": 0, "sent": 0, "failed": 0}
    when = datetime(2026, 4, 1, 0, 5, tzinfo=UTC)
    assert await scheduler.tick(runtime, when) == {"runs_created": 1, "sent": 1, "failed": 0}
    assert await scheduler.tick(runtime, when) == {"runs_created": 0, "sent": 0, "failed": 0}  # nothing twice
    [run] = await runs(client, settings, schedule["schedule_id"])
    assert run["status"] == "sent" and run["period"] == "2026-03" and run["attempts"] == 1 and run["report_id"]
    [(to, message)] = inbox.messages
    assert sorted(to) == ["ceo@acme.example", "cfo@acme.example"]
    [attachment] = [p for p in message.walk() if p.get_content_disposition() == "attachment"]
    assert attachment.get_content_type() == "application/pdf" and attachment.get_payload(decode=True).startswith(b"%PDF")
    listed = (await client.get("/v1/schedules", headers=auth(settings))).json()["items"]
    assert listed[0]["next_run_at"] == "2026-05-01T00:00:00+00:00"

    # April has no evidence: the run fails, is retried after the backoff, then given up (max 2 attempts)
    may = datetime(2026, 5, 1, 0, 5, tzinfo=UTC)
    assert await scheduler.tick(runtime, may) == {"runs_created": 1, "sent": 0, "failed": 1}
    april = next(r for r in await runs(client, settings, schedule["schedule_id"]) if r["period"] == "2026-04")
    assert april["status"] == "pending" and april["attempts"] == 1 and "no evidence" in april["error"]
    assert await scheduler.tick(runtime, may + timedelta(seconds=30)) == {"runs_created": 0, "sent": 0, "failed": 0}
    assert await scheduler.tick(runtime, may + timedelta(seconds=61)) == {"runs_created": 0, "sent": 0, "failed": 1}
    april = next(r for r in await runs(client, settings, schedule["schedule_id"]) if r["period"] == "2026-04")
    assert april["status"] == "failed" and april["attempts"] == 2

    # evidence arrives late; a manual retry re-arms the run and the next tick sends it
    await publish(bus, runtime, evidence("ev-april", when="2026-04-20T10:00:00+00:00"))

    async def arrived():
        return len((await client.get("/v1/evidence", headers=auth(settings))).json()["items"]) == 4
    await eventually(arrived, timeout=30)
    clock.now = may + timedelta(hours=1)
    path = f"/v1/schedules/{schedule['schedule_id']}/runs/{april['run_id']}/retry"
    assert (await client.post(path, headers=auth(settings, "globex"))).status_code == 404
    r = await client.post(path, headers=auth(settings))
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert (await client.post(path, headers=auth(settings))).status_code == 409
    assert await scheduler.tick(runtime, clock.now) == {"runs_created": 0, "sent": 1, "failed": 0}
    assert len(inbox.messages) == 2


async def test_smtp_down_is_retried_and_pause_resume(runtime, bus, client, settings, clock, reporting_settings):
    runtime.app.state.reporting_settings = reporting_settings.model_copy(update={"smtp_port": free_port()})  # nothing listens
    await publish(bus, runtime, evidence("ev-1", when="2026-03-02T10:00:00+00:00"))

    async def ready():
        return (await client.get("/v1/evidence", headers=auth(settings))).json()["items"]
    await eventually(ready, timeout=30)
    s = (await client.post("/v1/schedules", json={"template": "impact_deep_dive", "frequency": "quarterly",
                                                  "recipients": ["board@acme.example"]}, headers=auth(settings))).json()
    assert s["next_run_at"] == "2026-04-01T00:00:00+00:00"
    assert await scheduler.tick(runtime, datetime(2026, 4, 1, 1, tzinfo=UTC)) == {"runs_created": 1, "sent": 0, "failed": 1}
    [run] = await runs(client, settings, s["schedule_id"])
    assert run["period"] == "2026-Q1" and run["status"] == "pending" and "ConnectionRefusedError" in run["error"]
    assert run["report_id"]  # generated once, kept for the retries

    paused = await client.post(f"/v1/schedules/{s['schedule_id']}/pause", headers=auth(settings))
    assert paused.json()["status"] == "paused"
    assert (await scheduler.tick(runtime, datetime(2026, 7, 1, 1, tzinfo=UTC)))["runs_created"] == 0
    clock.now = datetime(2026, 7, 15, tzinfo=UTC)
    resumed = (await client.post(f"/v1/schedules/{s['schedule_id']}/resume", headers=auth(settings))).json()
    assert resumed["status"] == "active" and resumed["next_run_at"] == "2026-10-01T00:00:00+00:00"

    other = auth(settings, "globex")
    for method, path in (("get", f"/v1/schedules/{s['schedule_id']}"), ("get", f"/v1/schedules/{s['schedule_id']}/runs"),
                         ("post", f"/v1/schedules/{s['schedule_id']}/pause"), ("post", f"/v1/schedules/{s['schedule_id']}/resume")):
        assert (await client.request(method, path, headers=other)).status_code == 404
        assert (await client.request(method, path)).status_code == 401
    assert (await client.get("/v1/schedules", headers=other)).json()["items"] == []
    for body in ({"template": "quarterly", "frequency": "weekly", "recipients": ["a@b.co"]},
                 {"template": "quarterly", "frequency": "monthly", "recipients": ["not-an-email"]},
                 {"template": "quarterly", "frequency": "monthly", "recipients": []},
                 {"template": "quarterly", "frequency": "monthly", "recipients": ["a@b.co"], "format": "pptx"}):
        r = await client.post("/v1/schedules", json=body, headers=auth(settings))
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert len((await client.get("/v1/schedules", headers=auth(settings))).json()["items"]) == 1
