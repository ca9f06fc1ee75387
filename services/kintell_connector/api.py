"""HTTP routes of kintell-connector.

JWT-protected (tenant from the token):
  POST /v1/import/kintell-sessions   CSV (text/csv body or multipart field 'file') -> import report
  GET  /v1/imports/{import_id}       a stored import report
  GET  /v1/sessions                  filtered, cursor-paginated list
  GET  /v1/sessions/{session_id}     one session with its ratings
HMAC-signed by Kintell instead of a JWT (tenant from the signed X-Summit-Tenant header):
  POST /v1/webhooks/session
  POST /v1/webhooks/rating
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from services.kintell_connector import domain, ingest, profiles, store
from services.kintell_connector.config import KintellSettings
from summit_common import imports, tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.logs import get_logger
from summit_common.pagination import as_utc, clamp_limit, decode_time_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts import new_id

log = get_logger(component="kintell-connector")
router = APIRouter(prefix="/v1", tags=["kintell-connector"])
Caller = Annotated[Principal, Depends(current_principal)]
# Imports change a company's data: its staff (or admins) only, not participants.
Importer = Annotated[Principal, Depends(require_role("company_user", "admin"))]

TENANT_HEADER = "X-Summit-Tenant"
SIGNATURE_HEADER = "X-Kintell-Signature"
TIMESTAMP_HEADER = "X-Kintell-Timestamp"

_CSV_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}
            },
        },
    }
}


# --- CSV import -------------------------------------------------------------------------


async def _read_csv(request: Request) -> tuple[bytes, str | None]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Problem(422, "file missing", "send the CSV as the multipart form field 'file'")
            return await upload.read(), upload.filename
    if media and media not in imports.CSV_MEDIA_TYPES:
        raise Problem(415, "unsupported media type", f"send the CSV as text/csv or multipart/form-data, not {media}")
    return await request.body(), None


def import_report(
    *, import_id: str, mapping: str, filename: str | None, parsed: domain.ParsedCsv,
    outcomes: list[ingest.RowOutcome], imported_by: str, created_at: datetime,
) -> dict[str, Any]:
    errors = list(parsed.errors) + [e for o in outcomes for e in o.errors]
    errors.sort(key=lambda e: (e.line or 0))
    count = {outcome: sum(1 for o in outcomes if o.outcome is outcome) for outcome in ingest.Outcome}
    return {
        "import_id": import_id,
        "mapping": mapping,
        "filename": filename,
        "rows_total": parsed.rows_total,
        "accepted": count[ingest.Outcome.ACCEPTED],
        "rejected": len(parsed.rejected_lines) + count[ingest.Outcome.REJECTED],
        "duplicates": count[ingest.Outcome.DUPLICATE],
        "errors": [e.as_dict() for e in errors],
        "ignored_columns": list(parsed.ignored_columns),
        "imported_by": imported_by,
        "created_at": created_at.isoformat(),
    }


@router.post("/import/kintell-sessions", status_code=201, openapi_extra=_CSV_BODY)
async def import_sessions(
    request: Request,
    response: Response,
    caller: Importer,
    mapping: Annotated[str, Query(description="mapping profile (a file in mappings/, without .yaml)")] = profiles.DEFAULT_PROFILE,
) -> dict[str, Any]:
    """Import a Kintell session export. Good rows are stored even when others are rejected;
    a file-level problem (missing required column, not UTF-8, broken quoting) stores nothing."""
    try:
        profile = profiles.get_profile(mapping)
    except LookupError as exc:
        raise Problem(422, "unknown mapping profile", str(exc)) from None
    body, filename = await _read_csv(request)
    try:
        parsed = domain.parse_csv(domain.decode_csv(body), profile)
    except domain.CsvRejected as exc:
        extra = {"missing_columns": list(exc.missing_columns)} if exc.missing_columns else {}
        raise Problem(422, "CSV rejected", str(exc), **extra) from None

    runtime = request.app.state.runtime
    import_id = new_id()
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        outcomes = await ingest.ingest_sessions(uow, caller.tenant, parsed.records, origin="csv", import_id=import_id)
        report = import_report(import_id=import_id, mapping=profile.name, filename=filename, parsed=parsed,
                               outcomes=outcomes, imported_by=caller.sub, created_at=datetime.now(UTC))
        await store.insert_import(uow.conn, report, tenant=caller.tenant, content_sha256=domain.content_digest(body))
    log.info("kintell_import", tenant=caller.tenant, import_id=import_id, rows=report["rows_total"],
             accepted=report["accepted"], rejected=report["rejected"], duplicates=report["duplicates"])
    response.headers["Location"] = f"/v1/imports/{import_id}"
    return report


@router.get("/imports/{import_id}")
async def get_import(import_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    return await imports.get_import_report(request, caller, import_id, columns=store.IMPORT_REPORT_COLUMNS)


# --- queries ----------------------------------------------------------------------------


@router.get("/sessions")
async def list_sessions(
    request: Request,
    caller: Caller,
    session_type: Annotated[Literal["language", "mentorship"] | None, Query(alias="type")] = None,
    participant: Annotated[str | None, Query(description="Kintell participant id")] = None,
    status: Literal["scheduled", "completed", "cancelled"] | None = None,
    start_from: Annotated[datetime | None, Query(alias="from", description="started at or after (inclusive)")] = None,
    start_to: Annotated[datetime | None, Query(alias="to", description="started before (exclusive)")] = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The caller's tenant's sessions, newest first."""
    limit = clamp_limit(limit)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        rows = await store.list_sessions(
            conn, caller.tenant, session_type=session_type, participant=participant, status=status,
            start_from=as_utc(start_from), start_to=as_utc(start_to), after=decode_time_cursor(cursor), limit=limit + 1,
        )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1]["started_at"], page[-1]["session_id"]) if more else None
    return {"items": page, "next_cursor": next_cursor}


@router.get("/sessions/{session_id}")
async def get_session(session_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        session = await store.get_session(conn, caller.tenant, session_id)
        if session is None:
            owner = await store.session_owner(conn, session_id)
            raise await tenancy.not_found(runtime.pool, caller, f"session {session_id}", owner_tenant=owner)
    return session


# --- webhooks (HMAC instead of JWT) -----------------------------------------------------

# Declared on `router` itself: a nested include_router shows up as an `_IncludedRouter`
# entry (FastAPI >= 0.16x) that summit_common.catalog.http_routes cannot read.
WEBHOOK_TAGS = ["kintell-webhooks"]
_SIGNED_HEADERS = [
    {"name": TENANT_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
     "description": "the Summit tenant the delivery is for (covered by the signature)"},
    {"name": TIMESTAMP_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
     "description": "Unix time in seconds; must be within the tolerance of the server clock"},
    {"name": SIGNATURE_HEADER, "in": "header", "required": True, "schema": {"type": "string"},
     "description": "sha256=<hex HMAC-SHA256 of '<timestamp>.<tenant>.<raw body>'>"},
]


def _webhook_doc(example: dict[str, Any]) -> dict[str, Any]:
    return {
        "parameters": _SIGNED_HEADERS,
        "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}, "example": example}}},
    }


_SESSION_EXAMPLE = {
    "session_id": "KS-1001", "session_type": "language", "status": "completed", "participant_id": "KP-201",
    "volunteer_id": "KV-301", "start": "2024-03-04T14:00:00Z", "duration_minutes": 45, "language": "uk",
    "level": "B1", "topics": ["travel", "work"], "notes": "optional",
}
_RATING_EXAMPLE = {
    "session_id": "KS-1001", "rater_role": "participant", "rater_id": "KP-201", "score": 5, "comment": "optional",
    "created_at": "2024-03-04T15:00:00Z",
}


def kintell_settings(request: Request) -> KintellSettings:
    """Read from the environment once per app."""
    state = request.app.state
    if getattr(state, "kintell_settings", None) is None:
        state.kintell_settings = KintellSettings()
    return state.kintell_settings


def _unauthorized(reason: str, tenant: str | None) -> Problem:
    # Logged, not written to the audit table: unauthenticated traffic must not be able to fill the database.
    log.warning("kintell_webhook_rejected", tenant=tenant, reason=reason)
    return Problem(401, "webhook not authenticated", reason)


async def _authenticate(request: Request, settings: KintellSettings) -> tuple[str, bytes]:
    """The tenant and raw body of a correctly signed, fresh webhook; 401 otherwise."""
    body = await request.body()
    tenant = request.headers.get(TENANT_HEADER)
    if not domain.valid_tenant(tenant):
        raise _unauthorized(f"{TENANT_HEADER} is required (letters, digits, '_' or '-')", None)
    secret = settings.secret_for(tenant)
    if secret is None:
        raise _unauthorized("webhooks are not enabled for this tenant", tenant)
    try:
        domain.verify_signature(
            secret=secret, tenant=tenant, timestamp=request.headers.get(TIMESTAMP_HEADER),
            signature=request.headers.get(SIGNATURE_HEADER), body=body, now=time.time(),
            tolerance=settings.webhook_tolerance_seconds,
        )
    except domain.SignatureError as exc:
        raise _unauthorized(str(exc), tenant) from None
    return tenant, body


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Problem(422, "invalid JSON", "the body is not valid JSON") from None


def _invalid(what: str, exc: domain.RowInvalid) -> Problem:
    return Problem(422, f"invalid {what}", str(exc), errors=[e.as_dict() for e in exc.errors])


WebhookSettings = Annotated[KintellSettings, Depends(kintell_settings)]


@router.post("/webhooks/session", tags=WEBHOOK_TAGS, openapi_extra=_webhook_doc(_SESSION_EXAMPLE))
async def session_webhook(request: Request, settings: WebhookSettings) -> dict[str, Any]:
    """A session was booked, held or cancelled. Repeated deliveries answer 'duplicate' and change nothing."""
    tenant, body = await _authenticate(request, settings)
    try:
        values = domain.webhook_session_values(_json(body))
        record = domain.normalise_row(values, domain.CANONICAL_PROFILE)
    except domain.RowInvalid as exc:
        raise _invalid("session", exc) from None
    runtime = request.app.state.runtime
    async with runtime.unit_of_work(tenant=tenant, correlationid=request.state.correlation_id) as uow:
        [outcome] = await ingest.ingest_sessions(uow, tenant, [(None, record)], origin="webhook")
    if outcome.outcome is ingest.Outcome.REJECTED:
        raise Problem(409, "conflicting session status", outcome.errors[0].reason)
    result = {"inserted": "created", "advanced": "updated", "rated": "updated"}.get(outcome.changed, "duplicate")
    return {"session_id": record.session_id, "result": result}


@router.post("/webhooks/rating", tags=WEBHOOK_TAGS, openapi_extra=_webhook_doc(_RATING_EXAMPLE))
async def rating_webhook(request: Request, settings: WebhookSettings) -> dict[str, Any]:
    """Someone rated a completed session. 409 when the session is unknown or not completed (Kintell retries)."""
    tenant, body = await _authenticate(request, settings)
    try:
        submission = domain.parse_rating_webhook(_json(body))
    except domain.RowInvalid as exc:
        raise _invalid("rating", exc) from None
    runtime = request.app.state.runtime
    try:
        async with runtime.unit_of_work(tenant=tenant, correlationid=request.state.correlation_id) as uow:
            rating, stored_now = await ingest.ingest_rating(uow, tenant, submission, origin="webhook")
    except ingest.RatingRejected as exc:
        raise Problem(409, "rating not accepted", str(exc)) from None
    return {"rating_id": rating.rating_id, "session_id": rating.session_id, "result": "created" if stored_now else "duplicate"}

