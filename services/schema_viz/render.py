"""Regenerate the committed diagrams of the repository (the CI step).

    .venv/bin/python -m services.schema_viz.render            # write docs/diagrams/*
    .venv/bin/python -m services.schema_viz.render --check    # exit 1 if a committed file is stale

Writes erd, services and events diagrams as Mermaid (.mmd) and Graphviz (.dot) into
docs/diagrams/ (`--out` to change), from the live platform (or `--source-dir`, a frozen source
folder as in sources.directory_sources). Also fails (exit 1) when the coverage report finds a
registered service or event missing from the diagrams, and (exit 2) when a source cannot be
read, e.g. a migration uses SQL the parser does not support.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.schema_viz import ddl, domain, formats, sources
from services.schema_viz.domain import Selector, SourceError
from services.schema_viz.maps import PlatformMap

OUTPUT_FORMATS = ("mermaid", "dot")


def diagram_files(pmap: PlatformMap) -> dict[str, str]:
    """File name -> content of every generated diagram (deterministic)."""
    files = {}
    for kind in domain.DIAGRAM_KINDS:
        for fmt in OUTPUT_FORMATS:
            files[f"{kind}.{formats.EXTENSIONS[fmt]}"] = pmap.export(Selector(kind=kind), fmt).text
    return dict(sorted(files.items()))


def stale_files(out: Path, files: dict[str, str]) -> list[str]:
    stale = []
    for name, text in files.items():
        path = out / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            stale.append(name)
    return stale


def coverage_problems(report: dict) -> list[str]:
    problems = []
    for group in ("services", "events", "tables", "endpoints"):
        for diagram, missing in report[group]["missing"].items():
            if missing:
                problems.append(f"{group} missing from {diagram}: {', '.join(missing)}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.schema_viz.render", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="do not write; exit 1 if a committed diagram is stale")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: docs/diagrams of the repo)")
    parser.add_argument("--source-dir", type=Path, default=None, help="read a frozen source folder, not the platform")
    args = parser.parse_args(argv)
    out = args.out or sources.repo_root() / "docs" / "diagrams"
    try:
        src = sources.directory_sources(args.source_dir) if args.source_dir else sources.live_sources()
        pmap = PlatformMap.build(src)
    except (SourceError, ddl.DdlError) as exc:
        print(f"schema-viz: cannot read the platform's sources: {exc}", file=sys.stderr)
        return 2
    for warning in pmap.warnings:
        print(f"schema-viz: note: {warning}", file=sys.stderr)
    files = diagram_files(pmap)
    problems = coverage_problems(pmap.coverage)
    for problem in problems:
        print(f"schema-viz: coverage: {problem}", file=sys.stderr)
    stale = stale_files(out, files)
    if args.check:
        if stale:
            print(f"schema-viz: stale diagrams in {out}: {', '.join(stale)}; regenerate with "
                  "`.venv/bin/python -m services.schema_viz.render` and commit them", file=sys.stderr)
            return 1
        print(f"schema-viz: {len(files)} diagrams in {out} are up to date")
        return 1 if problems else 0
    out.mkdir(parents=True, exist_ok=True)
    for name in stale:
        (out / name).write_text(files[name], encoding="utf-8")
    print(f"schema-viz: wrote {len(stale)} of {len(files)} diagrams to {out}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
