"""Loading rule packs: every *.yaml in a folder, validated (readiness.parse_pack)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from services.program_graph.readiness import RulePack, RulePackError, parse_pack


@lru_cache(maxsize=8)
def load_packs(folder: Path) -> dict[str, RulePack]:
    """name -> pack. Raises RulePackError for an unreadable or invalid file, or a name used twice."""
    packs: dict[str, RulePack] = {}
    if not folder.is_dir():
        raise RulePackError(f"{folder}: not a folder of rule packs")
    for path in sorted(folder.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise RulePackError(f"{path.name}: not valid YAML: {exc}") from None
        pack = parse_pack(raw, origin=path.name)
        if pack.name in packs:
            raise RulePackError(f"{path.name}: rule pack {pack.name!r} is defined twice")
        packs[pack.name] = pack
    return packs
