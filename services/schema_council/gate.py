"""The contract gate: fails (exit 1) on a breaking change to a published event contract.

    python -m services.schema_council.gate                    check the registry against the baseline
    python -m services.schema_council.gate --update-baseline  publish the current schemas (commit the file)
    python -m services.schema_council.gate --changelog markdown|json   also print what changed

It compares every event type registered in `summit_contracts.REGISTRY` with the published
baseline `baseline/events.json` under each contract's compatibility mode
(BACKWARD_TRANSITIVE unless the baseline says otherwise for the contract, or `--mode`
changes the default). A removed published type is breaking; a new type, including a new
major `.v2` beside `.v1`, is additive. Accepted breaks are listed in `baseline/allowlist.yaml`.

Exit codes: 0 compatible (one summary line), 1 breaking (one block per contract), 2 the
baseline or the allow-list is missing or malformed.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from services.schema_council import gate_logic as gate
from services.schema_council.diff import Mode

HERE = Path(__file__).resolve().parent
BASELINE = HERE / "baseline" / "events.json"
ALLOWLIST = HERE / "baseline" / "allowlist.yaml"


def current_contracts() -> dict[str, dict[str, Any]]:
    """Every registered event type with its owner and JSON Schema."""
    from summit_contracts import REGISTRY

    return {spec.type: {"owner": spec.owner, "schema": spec.json_schema()} for spec in REGISTRY}


def consumers_by_type() -> dict[str, list[str]] | None:
    """Who consumes each event type (from the platform catalogue), for the failure message.
    None when the catalogue cannot be exported (a service that does not import)."""
    try:
        from summit_common.catalog import export_catalog

        return {e["type"]: e["consumers"] for e in export_catalog()["events"]}
    except Exception:  # noqa: BLE001 - the gate's verdict must not depend on unrelated services importing
        return None


def load_baseline(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise gate.ConfigError(f"{path}: not valid JSON: {exc}") from None
    return gate.validate_baseline(data)


def load_allowlist(path: Path) -> list[gate.AllowEntry]:
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise gate.ConfigError(f"{path}: not valid YAML: {exc}") from None
    try:
        return gate.parse_allowlist(data)
    except gate.ConfigError as exc:
        raise gate.ConfigError(f"{path}:\n{exc}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m services.schema_council.gate", description=__doc__.split("\n")[0])
    p.add_argument("--baseline", type=Path, default=BASELINE, help="the published baseline (default: %(default)s)")
    p.add_argument("--allowlist", type=Path, default=ALLOWLIST, help="accepted breaks (default: %(default)s)")
    p.add_argument("--mode", type=Mode.parse, default=None,
                   help="default compatibility mode for contracts without their own (default: the baseline's, "
                        "BACKWARD_TRANSITIVE)")
    p.add_argument("--update-baseline", action="store_true",
                   help="write the current schemas of every registered type into the baseline")
    p.add_argument("--force", action="store_true", help="with --update-baseline: publish even breaking changes")
    p.add_argument("--changelog", choices=("markdown", "json"), help="print what changed since the baseline")
    p.add_argument("--today", type=date.fromisoformat, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    today = args.today or datetime.now(UTC).date()
    out = sys.stderr if args.changelog else sys.stdout
    try:
        published = load_baseline(args.baseline)
        allowlist = load_allowlist(args.allowlist)
    except gate.ConfigError as exc:
        print(f"contract gate: ERROR - {exc}", file=sys.stderr)
        return 2
    current = current_contracts()

    if published is None:
        if not args.update_baseline:
            print(f"contract gate: ERROR - no published baseline at {args.baseline}; create it with "
                  "`python -m services.schema_council.gate --update-baseline` and commit it", file=sys.stderr)
            return 2
        return _write(args.baseline, gate.update(None, current, None), None, out)

    try:
        report = gate.check(published, current, allowlist, today=today, mode=args.mode)
    except gate.ConfigError as exc:
        print(f"contract gate: ERROR - {exc}", file=sys.stderr)
        return 2
    for warning in gate.format_warnings(report):
        print(warning, file=sys.stderr)
    if args.changelog:
        entries = gate.changelog(report)
        if args.changelog == "json":
            print(json.dumps({"contracts": entries}, indent=2, sort_keys=True))
        else:
            print(gate.changelog_markdown(entries), end="")

    if args.update_baseline:
        if not report.ok and not args.force:
            print(gate.format_failure(report, consumers=consumers_by_type()), file=sys.stderr)
            print("the baseline was not updated: fix the breaks, allow-list them with a reason, or pass --force",
                  file=sys.stderr)
            return 1
        return _write(args.baseline, gate.update(published, current, report, force=args.force), published, out)

    if not report.ok:
        print(gate.format_failure(report, consumers=consumers_by_type()), file=sys.stderr)
        return 1
    print(gate.format_summary(report), file=out)
    return 0


def _write(path: Path, new: dict[str, Any], old: dict[str, Any] | None, out) -> int:
    text = gate.dumps(new)
    previous = path.read_text(encoding="utf-8") if path.exists() else None
    if text == previous:
        print(f"contract gate: baseline {path} is up to date ({len(new['contracts'])} contracts)", file=out)
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    before = (old or {}).get("contracts", {})
    versions = sum(len(c["versions"]) for c in new["contracts"].values())
    added = len(set(new["contracts"]) - set(before))
    dropped = len(set(before) - set(new["contracts"]))
    print(f"contract gate: baseline {path} written: {len(new['contracts'])} contracts, {versions} published versions "
          f"({added} new, {dropped} dropped); commit it", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
