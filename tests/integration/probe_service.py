"""A tiny service used only to exercise the chassis contract (inbox, outbox, DLQ, replicas)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from summit_common import Service, UnitOfWork
from summit_common.auth import Principal, current_principal
from summit_common.consumer import Incoming, PermanentError
from summit_contracts.registry import REGISTRY, EventData, event_type


class ItemRecorded(EventData):
    """Test input."""

    item_id: str
    value: int
    fail: Literal["no", "always", "permanent", "once", "infra"] = "no"


class ItemStored(EventData):
    """Test output."""

    item_id: str
    value: int


PROBE_TYPES = {"probe.item.recorded.v1": ItemRecorded, "probe.item.stored.v1": ItemStored}


def register_probe_types() -> None:
    """Test-only contracts: registered for the tests that use them, removed afterwards, so the
    platform's own catalogue (read by governance services) never contains them."""
    for name, model in PROBE_TYPES.items():
        if name not in REGISTRY:
            event_type(name, owner="probe")(model)


def unregister_probe_types() -> None:
    for name in PROBE_TYPES:
        REGISTRY.unregister(name)


FAILED_ONCE: set[str] = set()
FIXED: set[str] = set()  # items whose "always" failure a test has since fixed
router = APIRouter(prefix="/v1")


class Note(BaseModel):
    text: str = Field(max_length=10_000)
    count: int


@router.post("/notes")
async def post_note(note: Note, caller: Principal = Depends(current_principal)) -> dict:
    """Reads a body, so body limits and validation errors can be tested."""
    return {"tenant": caller.tenant, "chars": len(note.text), "count": note.count}
MIGRATIONS = Path(__file__).parent / "probe_migrations"


async def record_item(event: Incoming, uow: UnitOfWork) -> None:
    data = event.data
    if data.fail == "always" and data.item_id not in FIXED:
        raise RuntimeError("probe handler always fails")
    if data.fail == "infra":
        raise ConnectionResetError("database connection lost")
    if data.fail == "permanent":
        raise PermanentError("value is not acceptable")
    if data.fail == "once" and data.item_id not in FAILED_ONCE:
        FAILED_ONCE.add(data.item_id)
        raise RuntimeError("transient failure")
    await uow.conn.execute(
        "INSERT INTO items (tenant_id, item_id, value) VALUES ($1, $2, $3)", event.tenant, data.item_id, data.value
    )
    uow.emit("probe.item.stored.v1", {"item_id": data.item_id, "value": data.value}, subject=data.item_id)


def make_service(name: str = "probe") -> Service:
    register_probe_types()
    return Service(
        name=name,
        description="chassis probe",
        handlers={"probe.item.recorded.v1": record_item},
        migrations=MIGRATIONS,
        router=router,
        emits=("probe.item.stored.v1",),
    )
