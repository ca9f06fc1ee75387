"""The CLI against live servers: `summit up`, `publish`, `dlq list/replay`."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time

import httpx
import nats
import pytest

from summit_common import cli
from summit_common.bus import Naming, ensure_streams
from summit_contracts import REGISTRY

pytestmark = pytest.mark.integration


def test_up_starts_services_prints_urls_and_a_token_and_stops_cleanly(tmp_path, infra):
    env = {**os.environ, "NATS_URL": infra["nats_url"], "DATABASE_URL": infra["database_url"],
           "SUMMIT_SUBJECT_PREFIX": f"up{os.getpid()}.", "SUMMIT_SCHEMA_SUFFIX": f"_up{os.getpid()}"}
    env.pop("SUMMIT_JWT_SECRET", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "summit_common.cli", "up", "--data", str(tmp_path), "--port", "18731", "--only", "unified-profile"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )
    lines = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Press Ctrl-C" in line:
                break
        output = "".join(lines)
        assert "Press Ctrl-C" in output, output
        assert "http://127.0.0.1:18731" in output
        token = re.search(r"^(eyJ[\w-]+\.[\w-]+\.[\w-]+)$", output, re.M).group(1)
        assert httpx.get("http://127.0.0.1:18731/readyz").json()["ready"] is True
        assert httpx.get("http://127.0.0.1:18731/v1/profiles", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "stopping" in rest


async def test_publish_then_dlq_list_and_replay(settings, monkeypatch, capsys):
    monkeypatch.setenv("NATS_URL", settings.nats_url)
    monkeypatch.setenv("SUMMIT_SUBJECT_PREFIX", settings.subject_prefix)
    naming = Naming(settings.subject_prefix)
    nc = await nats.connect(settings.nats_url)
    js = nc.jetstream()
    await ensure_streams(js, naming, REGISTRY.domains(), replicas=1, duplicate_window=120)
    # A dead letter as a service would write it.
    from summit_common import dlq

    await js.publish(naming.subject("safety.flag.raised.v1"), b"{broken")
    sub = await js.pull_subscribe(naming.subject("safety.flag.raised.v1"), durable="cli-test", stream=naming.stream("safety"))
    msg = (await sub.fetch(1, timeout=5))[0]
    await dlq.publish(js, naming, service="cli-test", msg=msg, reason="invalid_envelope", error="malformed JSON")
    await msg.term()

    data = {"flag_id": "f1", "content_id": "c1", "decision": "approved", "reviewer": "r", "reviewed_at": "2026-01-01T00:00:00Z"}
    assert await _run(["publish", "safety.review.completed.v1", "--tenant", "acme", "--data", json.dumps(data)]) == 0
    published = json.loads(capsys.readouterr().out)
    assert published["stream"] == naming.stream("safety") and published["duplicate"] is False

    assert await _run(["dlq", "list", "--service", "cli-test"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [e["reason"] for e in listed] == ["invalid_envelope"]

    assert await _run(["dlq", "replay", str(listed[0]["seq"])]) == 0
    assert "replayed" in capsys.readouterr().err
    assert await dlq.list_entries(js, naming, "cli-test") == []
    replayed = await sub.fetch(1, timeout=5)
    assert replayed[0].data == b"{broken"
    await nc.close()


async def _run(argv: list[str]) -> int:
    """cli.main uses asyncio.run; run it in a thread so it gets its own loop."""
    import asyncio

    return await asyncio.to_thread(cli.main, argv)
