"""`summit up`: the whole platform on one machine.

NATS and Postgres come from NATS_URL / DATABASE_URL when set, otherwise embedded
servers start under the data folder. Each service runs as its own process (as in a
container), on consecutive ports; logs go to <data>/logs/<service>.log.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from summit_common.auth import mint_token
from summit_common.catalog import discover_services


def _step(message: str) -> float:
    print(f"  {message} ...", end="", flush=True)
    return time.monotonic()


def _done(started: float, extra: str = "") -> None:
    print(f" ok ({(time.monotonic() - started) * 1000:.0f} ms){extra}", flush=True)


async def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"exited with code {proc.returncode}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"not ready after {timeout:.0f}s")


async def up(*, data_dir: Path, base_port: int = 8001, only: list[str] | None = None) -> None:
    from summit_common.cli import CliError, dev_secret

    data_dir = data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    embedded = []
    print("Summit is starting")
    nats_url = os.environ.get("NATS_URL")
    database_url = os.environ.get("DATABASE_URL")
    if not nats_url:
        from summit_common.embedded import EmbeddedNats

        started = _step("embedded NATS JetStream")
        server = EmbeddedNats(data_dir / "nats").start()
        embedded.append(server)
        nats_url = server.url
        _done(started, f" {nats_url}")
    if not database_url:
        from summit_common.embedded import EmbeddedPostgres

        started = _step("embedded Postgres")
        server = EmbeddedPostgres(data_dir / "postgres").start()
        embedded.append(server)
        database_url = server.url
        _done(started, f" {database_url}")

    services = discover_services()
    if only:
        unknown = sorted(set(only) - set(services))
        if unknown:
            raise CliError(f"unknown service(s): {', '.join(unknown)}")
        services = {name: services[name] for name in only}
    secret = dev_secret(data_dir)
    ports = {name: base_port + index for index, name in enumerate(services)}
    # Every service learns where the others listen (the api-gateway proxies to them).
    service_urls = json.dumps({name: f"http://127.0.0.1:{port}" for name, port in ports.items()})
    env = {**os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "SUMMIT_JWT_SECRET": secret,
           "SUMMIT_SERVICE_URLS": service_urls}
    procs: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        for name, port in ports.items():
            log = open(data_dir / "logs" / f"{name}.log", "ab")  # noqa: SIM115 (owned by the child)
            procs[name] = (
                subprocess.Popen([sys.executable, "-m", "summit_common.cli", "run", name, "--port", str(port)],
                                 env=env, stdout=log, stderr=subprocess.STDOUT),
                port,
            )
        for index, (name, (proc, port)) in enumerate(procs.items(), 1):
            started = _step(f"[{index}/{len(procs)}] {name}")
            try:
                await _wait_ready(f"http://127.0.0.1:{port}/readyz", proc)
            except RuntimeError as exc:
                raise CliError(f"{name} failed to start ({exc}); see {data_dir / 'logs' / (name + '.log')}") from None
            _done(started)
        token = mint_token(secret, sub="dev-admin", tenant="demo", roles=["admin", "company_user", "operator", "reviewer"], ttl_seconds=12 * 3600)
        print("\nServices")
        for name, (_, port) in procs.items():
            print(f"  {name:28} http://127.0.0.1:{port}   (docs: /docs, events: /asyncapi.json)")
        print(f"\nNATS      {nats_url}\nPostgres  {database_url}\nLogs      {data_dir / 'logs'}")
        print(f"\nDev token (tenant 'demo', 12 h; mint more with `summit token --tenant T --roles R`):\n{token}\n")
        print("Press Ctrl-C to stop.", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        while not stop.is_set():
            for name, (proc, _) in procs.items():
                if proc.poll() is not None:
                    print(f"summit: {name} exited with code {proc.returncode}; see its log", file=sys.stderr)
                    stop.set()
            await asyncio.sleep(0.5)
    finally:
        print("\nstopping ...", flush=True)
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc, _ in procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in reversed(embedded):
            server.stop()
