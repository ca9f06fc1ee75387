"""Every event family; importing this package registers all of them."""

from summit_contracts.events import (
    buddy,
    gateway,
    governance,
    impact,
    kintell,
    orchestration,
    privacy,
    q2q,
    safety,
    upskilling,
)

__all__ = ["buddy", "gateway", "governance", "impact", "kintell", "orchestration", "privacy", "q2q", "safety", "upskilling"]
