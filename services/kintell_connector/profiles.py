"""Mapping profiles: reads mappings/*.yaml (one profile per file, named by the file stem)
and validates them with domain.profile_from_dict. Loaded once per process."""

from __future__ import annotations

import functools
from pathlib import Path

import yaml

from services.kintell_connector.domain import MappingProfile, profile_from_dict

MAPPINGS_DIR = Path(__file__).parent / "mappings"
DEFAULT_PROFILE = "default"


@functools.cache
def load_profiles(folder: Path = MAPPINGS_DIR) -> dict[str, MappingProfile]:
    profiles = {}
    for path in sorted(folder.glob("*.yaml")):
        profiles[path.stem] = profile_from_dict(path.stem, yaml.safe_load(path.read_text(encoding="utf-8")))
    return profiles


def get_profile(name: str) -> MappingProfile:
    profiles = load_profiles()
    if name not in profiles:
        raise LookupError(f"unknown mapping profile {name!r}; known: {', '.join(sorted(profiles))}")
    return profiles[name]
