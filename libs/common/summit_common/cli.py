"""`summit`: the platform's command line.

  summit up                      embedded NATS + Postgres (or NATS_URL/DATABASE_URL), every service, URLs, a dev token
  summit run <service>           one service, as a container runs it
  summit services [--json]       what exists, what each consumes and produces
  summit publish <type> --tenant T --data JSON|@file
  summit tail <subject>          live events on a subject (wildcards allowed)
  summit dlq list|replay         dead letters
  summit token --tenant T --roles a,b
  summit catalog export          events, producers, consumers, HTTP routes as JSON
  summit bench                   throughput and latency against a raw nats-py baseline
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from pathlib import Path

from summit_common.settings import Settings

DEFAULT_DATA = Path(os.environ.get("SUMMIT_DATA_DIR", ".summit"))


class CliError(Exception):
    """One clear line for the operator, exit code 1."""


def dev_secret(data_dir: Path = DEFAULT_DATA) -> str:
    """The dev-mode HS256 key: SUMMIT_JWT_SECRET, else one generated once under the data folder."""
    if os.environ.get("SUMMIT_JWT_SECRET"):
        return os.environ["SUMMIT_JWT_SECRET"]
    path = data_dir / "dev-jwt-secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def _read_data(value: str):
    text = Path(value[1:]).read_text() if value.startswith("@") else value
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(f"--data is not valid JSON: {exc}") from None


# --- commands -------------------------------------------------------------------------


def cmd_services(args) -> None:
    from summit_common.catalog import discover_services

    services = discover_services()
    if args.json:
        print(json.dumps([{"name": s.name, "description": s.description, "consumes": sorted(s.handlers),
                           "produces": sorted(s.emits)} for s in services.values()], indent=2))
        return
    for service in services.values():
        print(f"{service.name:28} {service.description}")
        for event_type in sorted(service.handlers):
            print(f"{'':28}   <- {event_type}")
        for event_type in sorted(service.emits):
            print(f"{'':28}   -> {event_type}")


def cmd_run(args) -> None:
    from summit_common.catalog import get_service
    from summit_common.runtime import ServiceRuntime

    try:
        service = get_service(args.service)
    except LookupError as exc:
        raise CliError(str(exc)) from None
    settings = Settings()
    if not settings.jwt_secret and not settings.jwt_jwks_url:
        raise CliError("set SUMMIT_JWT_SECRET (dev) or SUMMIT_JWT_JWKS_URL (production) before running a service")
    _run_fast(ServiceRuntime(service, settings).serve(port=args.port))


def _run_fast(coroutine) -> None:
    """uvloop when installed (uvicorn[standard] brings it): a cheaper event loop per service."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


def cmd_token(args) -> None:
    from summit_common.auth import mint_token

    roles = [r for r in args.roles.split(",") if r]
    print(mint_token(dev_secret(), sub=args.sub, tenant=args.tenant, roles=roles, ttl_seconds=args.ttl))


def cmd_catalog(args) -> None:
    from summit_common.catalog import export_catalog

    text = json.dumps(export_catalog(), indent=2, sort_keys=True, default=str)
    if args.out:
        Path(args.out).write_text(text + "\n")
        print(f"wrote {args.out}", file=sys.stderr)
    else:
        print(text)


async def _publish(args) -> None:
    import nats

    from summit_common.bus import Naming
    from summit_contracts import REGISTRY, EventDataError, UnknownEventType, new_event

    try:
        spec = REGISTRY.get(args.type)
        payload = spec.validate(_read_data(args.data))
    except (UnknownEventType, EventDataError) as exc:
        raise CliError(str(exc).strip("'\"")) from None
    event = new_event(args.type, payload, source=args.source, tenantid=args.tenant, subject=args.subject)
    settings = Settings()
    nc = await _connect(settings.nats_url)
    try:
        ack = await nc.jetstream().publish(
            Naming(settings.subject_prefix).subject(args.type), event.to_json(), headers={"Nats-Msg-Id": event.msg_id}
        )
    except nats.js.errors.NoStreamResponseError:
        raise CliError(f"no stream accepts {args.type!r}: start a service (summit up) so streams are provisioned") from None
    finally:
        await nc.close()
    print(json.dumps({"id": event.id, "type": event.type, "stream": ack.stream, "seq": ack.seq, "duplicate": bool(ack.duplicate)}))


async def _connect(url: str):
    import nats

    async def quiet(_exc) -> None:  # the failure is reported once, below
        return None

    try:
        return await asyncio.wait_for(
            nats.connect(url, connect_timeout=2, max_reconnect_attempts=1, reconnect_time_wait=0.1, error_cb=quiet), 6
        )
    except Exception as exc:
        raise CliError(f"cannot reach NATS at {url}: {type(exc).__name__}") from None


async def _tail(args) -> None:
    from summit_common.bus import Naming

    settings = Settings()
    nc = await _connect(settings.nats_url)
    seen = 0
    done = asyncio.Event()

    async def show(msg) -> None:
        nonlocal seen
        try:
            body = json.loads(msg.data)
            line = {k: body.get(k) for k in ("type", "id", "source", "tenantid", "subject", "time")}
            if args.data:
                line["data"] = body.get("data")
        except ValueError:
            line = {"subject": msg.subject, "raw_bytes": len(msg.data)}
        print(json.dumps(line, default=str), flush=True)
        seen += 1
        if args.count and seen >= args.count:
            done.set()

    await nc.subscribe(Naming(settings.subject_prefix).subject(args.subject), cb=show)
    print(f"tailing {args.subject} (Ctrl-C to stop)", file=sys.stderr)
    try:
        await done.wait()
    finally:
        await nc.close()


async def _dlq(args) -> None:
    from summit_common import dlq
    from summit_common.bus import Naming

    settings = Settings()
    nc = await _connect(settings.nats_url)
    js = nc.jetstream()
    naming = Naming(settings.subject_prefix)
    try:
        if args.action == "list":
            entries = await dlq.list_entries(js, naming, args.service, limit=args.limit)
            for entry in entries:
                print(json.dumps(entry.summary()))
            print(f"{len(entries)} dead letter(s)", file=sys.stderr)
        else:
            if args.seq is None and not args.all:
                raise CliError("dlq replay needs a sequence number or --all")
            seqs = [args.seq] if args.seq is not None else [e.seq for e in await dlq.list_entries(js, naming, args.service, limit=10_000)]
            for n, seq in enumerate(seqs, 1):
                entry = await dlq.replay(js, naming, seq)
                print(f"[{n}/{len(seqs)}] replayed dlq #{seq} -> {entry.subject}", file=sys.stderr)
    finally:
        await nc.close()


def cmd_up(args) -> None:
    from summit_common.launcher import up

    asyncio.run(up(data_dir=Path(args.data), base_port=args.port, only=args.only))


def cmd_bench(args) -> None:
    from summit_common.bench import main as bench_main

    asyncio.run(bench_main(events=args.events, latency_events=args.latency_events))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="summit", description="Summit platform command line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start the whole platform (embedded NATS/Postgres unless NATS_URL/DATABASE_URL)")
    p.add_argument("--data", default=str(DEFAULT_DATA), help="data folder for the embedded servers")
    p.add_argument("--port", type=int, default=8001, help="first HTTP port; services take consecutive ports")
    p.add_argument("--only", nargs="*", help="start only these services")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("run", help="run one service (what a container runs)")
    p.add_argument("service")
    p.add_argument("--port", type=int, default=None)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("services", help="list services")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_services)

    p = sub.add_parser("publish", help="validate and publish an event")
    p.add_argument("type")
    p.add_argument("--tenant", required=True)
    p.add_argument("--data", required=True, help="JSON text or @file")
    p.add_argument("--subject", default=None)
    p.add_argument("--source", default="summit-cli")
    p.set_defaults(func=lambda a: asyncio.run(_publish(a)))

    p = sub.add_parser("tail", help="print events on a subject as they arrive")
    p.add_argument("subject", help="e.g. kintell.> or orchestration.profile.updated.v1")
    p.add_argument("--count", type=int, default=0, help="stop after N events")
    p.add_argument("--data", action="store_true", help="also print event data")
    p.set_defaults(func=lambda a: asyncio.run(_tail(a)))

    p = sub.add_parser("dlq", help="dead-letter stream")
    p.add_argument("action", choices=["list", "replay"])
    p.add_argument("seq", nargs="?", type=int)
    p.add_argument("--service", default=None)
    p.add_argument("--all", action="store_true")
    p.add_argument("--limit", type=int, default=100)
    p.set_defaults(func=lambda a: asyncio.run(_dlq(a)))

    p = sub.add_parser("token", help="mint a dev-mode JWT")
    p.add_argument("--tenant", required=True)
    p.add_argument("--roles", default="")
    p.add_argument("--sub", default="dev-user")
    p.add_argument("--ttl", type=int, default=8 * 3600)
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("catalog", help="the platform catalogue")
    p.add_argument("action", choices=["export"])
    p.add_argument("--out", default=None)
    p.set_defaults(func=cmd_catalog)

    p = sub.add_parser("bench", help="benchmarks: ratios against raw nats-py in the same run")
    p.add_argument("--events", type=int, default=20_000)
    p.add_argument("--latency-events", type=int, default=2_000)
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        return 130
    except CliError as exc:
        print(f"summit: error: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # anything else is still one clear line
        print(f"summit: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
