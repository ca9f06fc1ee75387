"""Every event family; importing this package registers all of them."""

from summit_contracts.events import buddy, kintell, orchestration, safety, upskilling

__all__ = ["buddy", "kintell", "orchestration", "safety", "upskilling"]
