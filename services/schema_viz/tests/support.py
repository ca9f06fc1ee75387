"""Shared helpers: the fixed synthetic source folder, shuffling, snapshots."""

from __future__ import annotations

import difflib
import os
import random
from dataclasses import replace
from pathlib import Path

from services.schema_viz.domain import Sources
from services.schema_viz.sources import directory_sources

HERE = Path(__file__).parent
FIXTURE = HERE / "fixture_repo"
SNAPSHOTS = HERE / "snapshots"
UPDATE = os.environ.get("SCHEMA_VIZ_UPDATE_SNAPSHOTS") == "1"


def fixture_sources() -> Sources:
    return directory_sources(FIXTURE)


def shuffled(src: Sources, seed: int) -> Sources:
    """The same sources with every list in another order (what must not change any output)."""
    rnd = random.Random(seed)

    def mix(items):
        items = list(items)
        rnd.shuffle(items)
        return items

    catalog = src.catalog
    services = [
        s.model_copy(update={"consumes": tuple(mix(s.consumes)), "produces": tuple(mix(s.produces)),
                             "http": tuple(mix(s.http)), "migrations": tuple(mix(s.migrations))})
        for s in mix(catalog.services)
    ]
    events = [e.model_copy(update={"producers": tuple(mix(e.producers)), "consumers": tuple(mix(e.consumers))})
              for e in mix(catalog.events)]
    migrations = {k: mix(src.migrations[k]) for k in mix(src.migrations)}
    return replace(src, catalog=catalog.model_copy(update={"services": tuple(services), "events": tuple(events)}),
                   migrations=migrations, chassis=mix(src.chassis), route_tables=mix(src.route_tables),
                   calls=mix(src.calls))


def assert_snapshot(name: str, text: str | bytes) -> None:
    """Compare with tests/snapshots/<name>; SCHEMA_VIZ_UPDATE_SNAPSHOTS=1 rewrites it instead."""
    path = SNAPSHOTS / name
    data = text.encode() if isinstance(text, str) else text
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    assert path.exists(), f"no snapshot {name}; run with SCHEMA_VIZ_UPDATE_SNAPSHOTS=1 and commit it"
    expected = path.read_bytes()
    if expected != data:
        diff = "\n".join(difflib.unified_diff(expected.decode().splitlines(), data.decode().splitlines(),
                                              "snapshot", "now", lineterm="", n=1))
        raise AssertionError(f"{name} differs from its snapshot:\n{diff[:4000]}")
