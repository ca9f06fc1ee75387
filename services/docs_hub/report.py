"""Documentation coverage of a Summit checkout, without a database or a bus: for CI.

    .venv/bin/python -m services.docs_hub.report [--repo-root PATH] [--min-coverage PCT]
        [--format table|json|markdown] [--verbose] [--since GIT_REF [--fail-on-drift]]

Reads the catalogue (the services and events of this installation), builds each service's
OpenAPI and AsyncAPI documents, reads the READMEs, ADRs and runbooks of the checkout, and prints
per-service and overall coverage with the same rules as the service (`domain.py`).

Exit status: 0 (it reports); 1 when the overall coverage is below `--min-coverage` (a percentage,
0..100), or when `--fail-on-drift` is given and the drift check of `--since` has unwaived errors.
`--since REF` runs the drift check on `git diff --name-status REF` in the checkout (commit
messages of REF..HEAD are read only for the `Docs-Drift: skip|refactor` trailer).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.docs_hub import domain
from services.docs_hub.config import DocsHubSettings
from services.docs_hub.scan import Scan, scan


@dataclass(frozen=True)
class Report:
    root: str
    coverage: list[domain.ServiceCoverage]
    totals: domain.CoverageTotals
    doc_counts: dict[str, int]
    problems: list[str]

    def as_json(self) -> dict[str, Any]:
        return {
            "repo_root": self.root,
            "documents": self.doc_counts,
            "overall": self.totals.as_dict(),
            "services": [c.as_dict() for c in self.coverage],
            "problems": self.problems,
        }


def build_report(found: Scan, root: str) -> Report:
    links = domain.compute_links(found.docs, found.catalogue)
    coverage = domain.compute_coverage(found.catalogue, links, {d.key: d.kind for d in found.docs})
    counts = {kind: sum(1 for d in found.docs if d.kind == kind) for kind in domain.DOC_KINDS}
    return Report(root=root, coverage=coverage, totals=domain.totals(coverage), doc_counts=counts,
                  problems=found.errors + found.skipped)


def _cell(documented: int, total: int) -> str:
    if total == 0:
        return f"{'0/0':>7}       -"
    return f"{documented:>3}/{total:<3} {100 * domain.ratio(documented, total):6.1f}%"


def format_table(report: Report, *, verbose: bool = False) -> str:
    width = max([len("service"), len("total")] + [len(c.service) for c in report.coverage])
    counts = report.doc_counts
    lines = [
        f"Documentation coverage of {report.root}",
        f"{len(report.coverage)} services; documents: {counts['readme']} READMEs, {counts['adr']} ADRs, "
        f"{counts['runbook']} runbooks, {counts['openapi']} OpenAPI, {counts['asyncapi']} AsyncAPI",
        "",
        f"{'service':<{width}}  {'endpoints':<15}  {'events':<15}",
        f"{'-' * width}  {'-' * 15}  {'-' * 15}",
    ]
    for c in report.coverage:
        lines.append(f"{c.service:<{width}}  {_cell(c.endpoints_documented, c.endpoints_total)}  "
                     f"{_cell(c.events_documented, c.events_total)}")
        if verbose:
            lines += [f"{'':<{width}}    undocumented: {item}" for item in (*c.undocumented_endpoints, *c.undocumented_events)]
    t = report.totals
    lines += [
        f"{'-' * width}  {'-' * 15}  {'-' * 15}",
        f"{'total':<{width}}  {_cell(t.endpoints_documented, t.endpoints_total)}  {_cell(t.events_documented, t.events_total)}",
        "",
        f"overall: {100 * t.overall:.1f}% of endpoints and events documented "
        f"({t.endpoints_documented + t.events_documented}/{t.endpoints_total + t.events_total})",
    ]
    lines += [f"note: {p}" for p in report.problems]
    return "\n".join(lines) + "\n"


def format_markdown(report: Report) -> str:
    t = report.totals

    def pct(documented: int, total: int) -> str:
        return "–" if total == 0 else f"{100 * domain.ratio(documented, total):.1f}%"

    lines = [
        "# Documentation coverage",
        "",
        f"Overall: **{100 * t.overall:.1f}%** of endpoints and events documented.",
        "",
        "| Service | Endpoints | % | Events | % |",
        "|---|---|---|---|---|",
    ]
    for c in report.coverage:
        lines.append(f"| {c.service} | {c.endpoints_documented}/{c.endpoints_total} | {pct(c.endpoints_documented, c.endpoints_total)} "
                     f"| {c.events_documented}/{c.events_total} | {pct(c.events_documented, c.events_total)} |")
    lines.append(f"| **total** | {t.endpoints_documented}/{t.endpoints_total} | {pct(t.endpoints_documented, t.endpoints_total)} "
                 f"| {t.events_documented}/{t.events_total} | {pct(t.events_documented, t.events_total)} |")
    return "\n".join(lines) + "\n"


# --- drift from git -----------------------------------------------------------------------------


def parse_name_status(output: str) -> list[domain.ChangedFile]:
    """`git diff --name-status` lines -> changed files (a rename is a delete plus an add; a copy an add)."""
    changes: dict[str, str] = {}
    for line in output.splitlines():
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0]:
            continue
        status = parts[0][0]
        if status in ("R", "C") and len(parts) >= 3:
            if status == "R":
                changes[parts[1]] = "deleted"
            changes[parts[2]] = "added"
        elif status == "A":
            changes[parts[1]] = "added"
        elif status == "D":
            changes[parts[1]] = "deleted"
        else:  # M, T (type change), U (unmerged)
            changes[parts[1]] = "modified"
    return [domain.ChangedFile(path, change) for path, change in sorted(changes.items())]


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True).stdout


def format_findings(result: domain.DriftResult) -> str:
    counts = result.counts()
    lines = [f"drift check: {'passed' if result.passed else 'FAILED'} "
             f"({counts['error']} errors, {counts['warning']} warnings, {counts['waived']} waived)"]
    for f in result.findings:
        mark = "waived" if f.waived else f.severity
        lines.append(f"  [{mark}] {f.kind}: {f.message}")
    return "\n".join(lines) + "\n"


# --- main ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.docs_hub.report", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo-root", type=Path, default=None, help="checkout to read (default: DOCS_HUB_REPO_ROOT or this repo)")
    parser.add_argument("--min-coverage", type=float, default=None, metavar="PCT",
                        help="exit 1 when the overall coverage is below PCT (0..100)")
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument("--verbose", "-v", action="store_true", help="list undocumented endpoints and events")
    parser.add_argument("--since", metavar="GIT_REF", help="also run the drift check on the diff from GIT_REF")
    parser.add_argument("--fail-on-drift", action="store_true", help="exit 1 when the drift check has unwaived errors")
    args = parser.parse_args(argv)
    if args.min_coverage is not None and not 0 <= args.min_coverage <= 100:
        parser.error("--min-coverage is a percentage between 0 and 100")
    root = (args.repo_root or DocsHubSettings().repo_root).resolve()
    if not root.is_dir():
        parser.error(f"repository root {root} is not a directory")

    found = scan(root)
    report = build_report(found, str(root))
    drift: domain.DriftResult | None = None
    if args.since:
        try:
            changed = parse_name_status(_git(root, "diff", "--name-status", args.since))
            message = _git(root, "log", "--format=%B", f"{args.since}..HEAD")
        except (OSError, subprocess.CalledProcessError) as exc:
            print(f"cannot read the git diff from {args.since}: {exc}", file=sys.stderr)
            return 2
        drift = domain.drift_check(catalogue=found.catalogue, docs=[d for d in found.docs if d.kind in domain.HUMAN_KINDS],
                                   changed=changed, message=message)

    if args.format == "json":
        out = report.as_json()
        if drift is not None:
            out["drift"] = {"passed": drift.passed, "counts": drift.counts(), "findings": [f.as_dict() for f in drift.findings]}
        sys.stdout.write(json.dumps(out, indent=2) + "\n")
    elif args.format == "markdown":
        sys.stdout.write(format_markdown(report))
    else:
        sys.stdout.write(format_table(report, verbose=args.verbose))
    if drift is not None and args.format != "json":
        sys.stdout.write("\n" + format_findings(drift))

    status = 0
    overall = 100 * report.totals.overall
    if args.min_coverage is not None and overall < args.min_coverage:
        print(f"coverage {overall:.1f}% is below the minimum {args.min_coverage:g}%", file=sys.stderr)
        status = 1
    if drift is not None and args.fail_on_drift and not drift.passed:
        status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
