"""Gateway overhead: latency added by the api-gateway over calling the upstream directly,
measured in the same run, on loopback only.

    .venv/bin/python -m services.api_gateway.bench [--requests 2000] [--rate 200] [--redis URL]

A tiny upstream app (uvicorn) and the gateway (ServiceRuntime, as `summit run` starts it)
run as two processes on 127.0.0.1; NATS and Postgres come from NATS_URL / DATABASE_URL or
are started embedded. The load is open-loop: every 1/rate s one request goes through the
gateway and, half a period later, one straight to the upstream, so both paths see the same
conditions. Each gateway request does the full work: JWT check, membership (cache), route
match, two token buckets, forwarding over the shared connection pool, access log lines.
Reports p50/p99 of both paths and the difference (target: < 5 ms added at p99). The loop
is bounded (--requests) and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx

TARGET_P99_MS = 5.0
SECRET = "bench-secret-for-loopback-only-0123456789abcdef"
ROUTES = """
rate_limits:
  default:
    tenant: {per_second: 100000, burst: 100000}
    key: {per_second: 100000, burst: 100000}
routes:
  - prefix: /api/bench
    service: bench-upstream
    roles: [admin, company_user, participant]
"""


# --- the two server processes ------------------------------------------------------------


_ITEM = json.dumps({"name": "benchmark item", "tags": ["a", "b", "c"]}).encode()


async def upstream_app(scope, receive, send) -> None:
    """The upstream: a bare ASGI app (GET /readyz, GET /v1/items/{id}) so that it takes as
    little of the shared CPU as possible; what is measured is the gateway."""
    if scope["type"] != "http":
        return
    ok = scope["path"] == "/readyz" or scope["path"].startswith("/v1/items/")
    body = (b'{"ready": true}' if scope["path"] == "/readyz" else _ITEM) if ok else b'{"error": "not found"}'
    await send({"type": "http.response.start", "status": 200 if ok else 404,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def serve_upstream(port: int) -> None:
    import uvicorn

    uvicorn.run(upstream_app, host="127.0.0.1", port=port, log_level="warning", access_log=False, lifespan="off")


def serve_gateway(port: int) -> None:
    from services.api_gateway.service import service
    from summit_common.runtime import ServiceRuntime
    from summit_common.settings import Settings

    asyncio.run(ServiceRuntime(service, Settings()).serve(host="127.0.0.1", port=port))


# --- the driver ----------------------------------------------------------------------------


async def _wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"{url} exited with code {proc.returncode}")
            try:
                if (await client.get(url)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:.0f}s")


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class RawClient:
    """A minimal HTTP/1.1 keep-alive client (GET, Content-Length bodies): the load generator
    shares the machine with both servers, so it should cost as little as possible. Both paths
    use the same client, so what it costs is the same on both sides of the comparison."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened: list[asyncio.StreamWriter] = []

    async def get(self, path: str) -> int:
        reused = bool(self.idle)
        try:
            return await self._get(path)
        except (asyncio.IncompleteReadError, ConnectionError):
            if not reused:
                raise
            return await self._get(path, fresh=True)  # the server closed an idle keep-alive connection

    async def _get(self, path: str, *, fresh: bool = False) -> int:
        if self.idle and not fresh:
            reader, writer = self.idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.opened.append(writer)
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.extra}\r\n".encode())
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        self.idle.append((reader, writer))
        return status

    async def close(self) -> None:
        for writer in self.opened:
            writer.close()


async def _load(gateway_port: int, upstream_port: int, token: str, *, requests: int, rate: float) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {"gateway": [], "direct": [], "lag": []}
    failures: dict[str, int] = {"gateway": 0, "direct": 0}
    headers = {"Authorization": f"Bearer {token}"}
    clients = {"gateway": RawClient("127.0.0.1", gateway_port, headers),
               "direct": RawClient("127.0.0.1", upstream_port, headers)}
    paths = {"gateway": "/api/bench/items/{n}", "direct": "/v1/items/{n}"}

    async def one(kind: str, n: int, record: bool) -> None:
        started = time.perf_counter()
        status = await clients[kind].get(paths[kind].format(n=n))
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            failures[kind] += 1
        elif record:
            results[kind].append(elapsed)

    try:
        for n in range(min(200, requests)):  # connections, caches and code paths warm
            await one("gateway", n, False)
            await one("direct", n, False)
        tasks = []
        period = 1.0 / rate
        start = time.perf_counter()
        for n in range(requests):
            for kind, offset in (("gateway", 0.0), ("direct", 0.5)):
                due = start + (n + offset) * period
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                results["lag"].append(max(0.0, time.perf_counter() - due) * 1000)
                tasks.append(asyncio.create_task(one(kind, n, True)))
        await asyncio.gather(*tasks)
    finally:
        for client in clients.values():
            await client.close()
    if any(failures.values()):
        raise RuntimeError(f"non-200 answers during the run: {failures}")
    return results


def _spawn(env: dict, log_path: Path, up_port: int, gw_port: int) -> list[subprocess.Popen]:
    """The upstream and the gateway, each in its own process (their logs go to one file)."""
    with open(log_path, "ab") as logs:
        return [subprocess.Popen([sys.executable, "-m", "services.api_gateway.bench", f"--serve-{role}", str(port)],
                                 env=env, stdout=logs, stderr=subprocess.STDOUT)
                for role, port in (("upstream", up_port), ("gateway", gw_port))]


def _stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


async def run(*, requests: int, rate: float, redis_url: str, log_level: str) -> dict:
    from summit_common.embedded import nats_and_postgres

    root = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    with nats_and_postgres(root) as servers:
        return await _measure(servers, root, requests=requests, rate=rate, redis_url=redis_url, log_level=log_level)


async def _measure(servers, root: Path, *, requests: int, rate: float, redis_url: str, log_level: str) -> dict:
    from summit_common.auth import mint_token
    from summit_common.embedded import free_port

    nats_url, database_url = servers.nats_url, servers.database_url
    tag = uuid.uuid4().hex[:6]
    schema = f"api_gateway_b{tag}"
    up_port, gw_port = free_port(), free_port()
    (root / "routes.yaml").write_text(ROUTES)
    env = {
        **os.environ, "NATS_URL": nats_url, "DATABASE_URL": database_url, "SUMMIT_JWT_SECRET": SECRET,
        "SUMMIT_SCHEMA_SUFFIX": f"_b{tag}", "SUMMIT_SUBJECT_PREFIX": f"b{tag}.", "SUMMIT_LOG_LEVEL": log_level,
        "SUMMIT_SERVICE_URLS": json.dumps({"bench-upstream": f"http://127.0.0.1:{up_port}"}),
        "GATEWAY_ROUTES_FILE": str(root / "routes.yaml"), "REDIS_URL": redis_url,
    }
    procs = _spawn(env, root / "servers.log", up_port, gw_port)
    try:
        await _wait_ready(f"http://127.0.0.1:{up_port}/readyz", procs[0])
        await _wait_ready(f"http://127.0.0.1:{gw_port}/readyz", procs[1])
        conn = await asyncpg.connect(database_url, server_settings={"search_path": schema})
        try:
            await conn.execute("INSERT INTO companies (company_id, name, created_by) VALUES ('bench', 'Bench', 'bench')")
            await conn.execute("INSERT INTO company_users (company_id, user_id, role, added_by)"
                               " VALUES ('bench', 'bench-user', 'company_user', 'bench')")
        finally:
            await conn.close()
        token = mint_token(SECRET, sub="bench-user", tenant="bench", roles=["company_user"], ttl_seconds=3600)
        print(f"api-gateway bench: {requests} requests per path at {rate:.0f}/s each, loopback, "
              f"{'Redis ' + redis_url if redis_url else 'in-process cache and limits'}, gateway log level {log_level}")
        lat = await _load(gw_port, up_port, token, requests=requests, rate=rate)
    finally:
        _stop(procs)
        if not servers.embedded:  # an external database keeps nothing of the run
            with_conn = await asyncpg.connect(database_url)
            await with_conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await with_conn.close()
    result = {
        "direct_p50_ms": round(_pct(lat["direct"], 0.50), 3), "direct_p99_ms": round(_pct(lat["direct"], 0.99), 3),
        "gateway_p50_ms": round(_pct(lat["gateway"], 0.50), 3), "gateway_p99_ms": round(_pct(lat["gateway"], 0.99), 3),
        "direct_mean_ms": round(statistics.fmean(lat["direct"]), 3), "gateway_mean_ms": round(statistics.fmean(lat["gateway"]), 3),
    }
    result["send_lag_p99_ms"] = round(_pct(lat["lag"], 0.99), 3)
    result["added_p50_ms"] = round(result["gateway_p50_ms"] - result["direct_p50_ms"], 3)
    result["added_p99_ms"] = round(result["gateway_p99_ms"] - result["direct_p99_ms"], 3)
    result["target_p99_ms"] = TARGET_P99_MS
    result["meets_target"] = result["added_p99_ms"] < TARGET_P99_MS
    print(f"  direct   p50 {result['direct_p50_ms']:7.3f} ms   p99 {result['direct_p99_ms']:7.3f} ms")
    print(f"  gateway  p50 {result['gateway_p50_ms']:7.3f} ms   p99 {result['gateway_p99_ms']:7.3f} ms")
    print(f"  added    p50 {result['added_p50_ms']:7.3f} ms   p99 {result['added_p99_ms']:7.3f} ms   "
          f"(target p99 < {TARGET_P99_MS} ms: {'met' if result['meets_target'] else 'NOT met'})")
    print(f"  load generator send lag p99 {result['send_lag_p99_ms']:.3f} ms (high: the machine is busy, numbers are noisy)")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.api_gateway.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per path (default 2000)")
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second per path (default 200)")
    parser.add_argument("--redis", default="", help="a REDIS_URL: shared cache and rate limits instead of in process")
    parser.add_argument("--log-level", default="INFO", help="the gateway's log level (default INFO, as deployed)")
    parser.add_argument("--json", action="store_true", help="also print the result as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when the target is not met")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-gateway", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_upstream:
        serve_upstream(args.serve_upstream)
        return 0
    if args.serve_gateway:
        serve_gateway(args.serve_gateway)
        return 0
    if not 1 <= args.requests <= 100_000 or not 1 <= args.rate <= 5000:
        parser.error("--requests must be 1..100000 and --rate 1..5000")
    result = asyncio.run(run(requests=args.requests, rate=args.rate, redis_url=args.redis, log_level=args.log_level))
    if args.json:
        print(json.dumps(result))
    return 1 if args.strict and not result["meets_target"] else 0


if __name__ == "__main__":
    sys.exit(main())
