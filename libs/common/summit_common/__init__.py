"""The Summit chassis: everything a service needs besides its domain logic.

A service declares itself with `Service(...)` (see `service.py`); `ServiceRuntime`
gives it JetStream pull consumers, the inbox and outbox, migrations, HTTP, auth,
logs, traces and metrics.
"""

from summit_common.service import Service
from summit_common.uow import UnitOfWork

__all__ = ["Service", "UnitOfWork"]
