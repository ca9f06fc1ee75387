"""Settings of program-graph only (the chassis reads its own SUMMIT_* settings).

PROGRAM_GRAPH_RULE_PACKS_DIR        folder of rule pack YAML files (default: rule_packs/ next to this file)
PROGRAM_GRAPH_CAPABILITY_RULE_PACK  the pack of a capability that names none (default: standard)
PROGRAM_GRAPH_MILESTONE_RULE_PACK   the pack of a milestone that names none (default: none, dependencies only)
PROGRAM_GRAPH_MAX_NODES             the most nodes one tenant's program may hold (default: 20000)
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PACKS_DIR = Path(__file__).parent / "rule_packs"


class ProgramGraphSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PROGRAM_GRAPH_", extra="ignore")

    rule_packs_dir: Path = PACKS_DIR
    capability_rule_pack: str = "standard"
    milestone_rule_pack: str = "none"
    max_nodes: int = Field(default=20_000, ge=1)

    def default_packs(self) -> dict[str, str | None]:
        return {"capability": self.capability_rule_pack, "milestone": self.milestone_rule_pack, "service": None, "test": None}
