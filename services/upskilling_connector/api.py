"""HTTP routes of upskilling-connector (all need a bearer JWT; the tenant comes from the token).

Writes (role company_user or admin):
  POST /v1/import/course-completions?provider=   a provider's completion export -> import report
  POST /v1/import/credentials?provider=          a provider's certificate / badge export
  POST /v1/import/progress?provider=             a provider's progress export
Reads (any valid token of the tenant):
  GET  /v1/providers                             the registered providers and their formats
  GET  /v1/imports/{import_id}                   a stored import report
  GET  /v1/completions, /v1/completions/{id}     filtered, cursor-paginated
  GET  /v1/credentials, /v1/credentials/{id}
  GET  /v1/progress
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from services.upskilling_connector import domain, ingest, store
from services.upskilling_connector.providers import Registry, UnknownProvider, default_registry
from services.upskilling_connector.providers.base import ProviderAdapter, RawExport, UnsupportedFormat
from summit_common import imports, tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.logs import get_logger
from summit_common.pagination import as_utc, clamp_limit, decode_time_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts import new_id

log = get_logger(component="upskilling-connector")
router = APIRouter(prefix="/v1", tags=["upskilling-connector"])
Caller = Annotated[Principal, Depends(current_principal)]
Writer = Annotated[Principal, Depends(require_role("company_user", "admin"))]

JSON_MEDIA_TYPES = {"application/json", "text/json"}

_EXPORT_BODY = {
    "requestBody": {
        "required": True,
        "description": "the provider's export as it was downloaded: CSV or JSON (see GET /v1/providers)",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {}},
            "multipart/form-data": {
                "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}},
                           "required": ["file"]}
            },
        },
    }
}


def registry(request: Request) -> Registry:
    """The provider registry: the default one, unless the app was given another (tests add a provider)."""
    return getattr(request.app.state, "upskilling_registry", None) or default_registry()


Providers = Annotated[Registry, Depends(registry)]


def _format_of(media: str, filename: str | None = None) -> str | None:
    if media in imports.CSV_MEDIA_TYPES:
        return "csv"
    if media in JSON_MEDIA_TYPES or media.endswith("+json"):
        return "json"
    if filename:
        suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
        return {"csv": "csv", "json": "json"}.get(suffix)
    return None


async def _read_export(request: Request) -> tuple[bytes, str, str | None]:
    """(body, 'csv' | 'json', filename) from a raw body or a multipart upload in field 'file'."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "multipart/form-data":
        async with request.form() as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise Problem(422, "file missing", "send the export as the multipart form field 'file'")
            part_media = (upload.content_type or "").split(";")[0].strip().lower()
            export_format = _format_of(part_media if part_media != "application/octet-stream" else "", upload.filename)
            if export_format is None:
                raise Problem(415, "unsupported media type",
                              "the uploaded file must be CSV (text/csv, *.csv) or JSON (application/json, *.json)")
            return await upload.read(), export_format, upload.filename
    export_format = _format_of(media)
    if export_format is None:
        raise Problem(415, "unsupported media type",
                      f"send the export as text/csv, application/json or multipart/form-data, not {media or 'no type'}")
    return await request.body(), export_format, None


def _adapter(providers: Registry, provider: str) -> ProviderAdapter:
    try:
        return providers.get(provider)
    except UnknownProvider as exc:
        raise Problem(422, "unknown provider", str(exc), known_providers=providers.names()) from None


async def _import(kind: str, request: Request, response: Response, caller: Principal, providers: Registry,
                  provider: str) -> dict[str, Any]:
    adapter = _adapter(providers, provider)
    body, export_format, filename = await _read_export(request)
    try:
        parsed = adapter.parse(kind, RawExport.decode(body, export_format))
    except UnsupportedFormat as exc:
        raise Problem(415, "unsupported export format", str(exc), formats=list(adapter.formats)) from None
    except domain.ExportRejected as exc:
        extra = {"missing_columns": list(exc.missing_columns)} if exc.missing_columns else {}
        raise Problem(422, "export rejected", str(exc), **extra) from None

    runtime = request.app.state.runtime
    import_id = new_id()
    # One transaction: the rows, their events (outbox) and the report commit together or not at all.
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        outcomes, emitted = await ingest.ingest(uow, tenant=caller.tenant, import_id=import_id, rows=parsed.rows)
        report = domain.build_report(
            import_id=import_id, kind=kind, provider=adapter.name, export_format=export_format, filename=filename,
            rows=parsed.rows, outcomes=outcomes, emitted=emitted, notices=parsed.notices,
            ignored_columns=parsed.ignored_columns, created_at=datetime.now(UTC),
        )
        await store.insert_import(uow.conn, tenant=caller.tenant, report=report,
                                  content_sha256=domain.content_digest(body), imported_by=caller.sub)
    log.info("upskilling_import", tenant=caller.tenant, import_id=import_id, kind=kind, provider=adapter.name,
             rows=report["rows_total"], accepted=report["accepted"], duplicates=report["duplicates"],
             skipped=report["skipped"], rejected=report["rejected"])
    response.headers["Location"] = f"/v1/imports/{import_id}"
    return report


ProviderParam = Annotated[str, Query(description="the provider whose export this is (see GET /v1/providers)")]


@router.post("/import/course-completions", status_code=201, openapi_extra=_EXPORT_BODY)
async def import_completions(request: Request, response: Response, caller: Writer, providers: Providers,
                             provider: ProviderParam) -> dict[str, Any]:
    """Import a provider's course completion export. Completed rows become completions
    (upskilling.course.completed.v1), in-progress rows with a percentage become progress
    (upskilling.progress.updated.v1), other statuses are reported as skipped. Good rows are stored
    even when others are rejected; a file-level problem stores nothing."""
    return await _import("completions", request, response, caller, providers, provider)


@router.post("/import/credentials", status_code=201, openapi_extra=_EXPORT_BODY)
async def import_credentials(request: Request, response: Response, caller: Writer, providers: Providers,
                             provider: ProviderParam) -> dict[str, Any]:
    """Import a provider's certificate / badge export (upskilling.credential.issued.v1)."""
    return await _import("credentials", request, response, caller, providers, provider)


@router.post("/import/progress", status_code=201, openapi_extra=_EXPORT_BODY)
async def import_progress(request: Request, response: Response, caller: Writer, providers: Providers,
                          provider: ProviderParam) -> dict[str, Any]:
    """Import a provider's progress export (upskilling.progress.updated.v1 when the percentage changed)."""
    return await _import("progress", request, response, caller, providers, provider)


@router.get("/providers")
async def list_providers(caller: Caller, providers: Providers) -> dict[str, Any]:
    return {"items": [
        {"name": a.name, "title": a.title, "formats": list(a.formats), "description": a.description}
        for a in (providers.get(n) for n in providers.names())
    ]}


@router.get("/imports/{import_id}")
async def get_import(import_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    return await imports.get_import_report(request, caller, import_id, columns=store.IMPORT_REPORT_COLUMNS)


# --- queries ------------------------------------------------------------------------------


def _page(rows: list[dict[str, Any]], limit: int, time_field: str, id_field: str) -> dict[str, Any]:
    page, more = rows[:limit], len(rows) > limit
    return {"items": page, "next_cursor": encode_cursor(page[-1][time_field], page[-1][id_field]) if more else None}


Participant = Annotated[str | None, Query(description="the provider's learner id (the participant's ExternalRef id)")]
ProviderFilter = Annotated[str | None, Query(description="provider name (see GET /v1/providers)")]
From = Annotated[datetime | None, Query(alias="from", description="at or after (inclusive); naive times are UTC")]
To = Annotated[datetime | None, Query(alias="to", description="before (exclusive); naive times are UTC")]


@router.get("/completions")
async def list_completions(
    request: Request, caller: Caller, participant: Participant = None, provider: ProviderFilter = None,
    category: Literal["language", "digital", "professional"] | None = None,
    course: Annotated[str | None, Query(description="course id")] = None,
    time_from: From = None, time_to: To = None, cursor: str | None = None, limit: int = 50,
) -> dict[str, Any]:
    """The tenant's completions, newest completion first."""
    limit = clamp_limit(limit)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        rows = await store.list_completions(
            conn, tenant=caller.tenant, participant=participant, provider=provider, category=category, course=course,
            time_from=as_utc(time_from), time_to=as_utc(time_to), after=decode_time_cursor(cursor), limit=limit + 1,
        )
    return _page(rows, limit, "completed_at", "completion_id")


@router.get("/completions/{completion_id:path}")
async def get_completion(completion_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        found = await store.get_completion(conn, tenant=caller.tenant, completion_id=completion_id)
        if found is None:
            owner = await store.completion_owner(conn, completion_id=completion_id)
            raise await tenancy.not_found(runtime.pool, caller, f"completion {completion_id}", owner_tenant=owner)
    return found


@router.get("/credentials")
async def list_credentials(
    request: Request, caller: Caller, participant: Participant = None, provider: ProviderFilter = None,
    time_from: From = None, time_to: To = None, cursor: str | None = None, limit: int = 50,
) -> dict[str, Any]:
    """The tenant's credentials, newest issue first."""
    limit = clamp_limit(limit)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        rows = await store.list_credentials(
            conn, tenant=caller.tenant, participant=participant, provider=provider, time_from=as_utc(time_from),
            time_to=as_utc(time_to), after=decode_time_cursor(cursor), limit=limit + 1,
        )
    return _page(rows, limit, "issued_at", "credential_id")


@router.get("/credentials/{credential_id:path}")
async def get_credential(credential_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        found = await store.get_credential(conn, tenant=caller.tenant, credential_id=credential_id)
        if found is None:
            owner = await store.credential_owner(conn, credential_id=credential_id)
            raise await tenancy.not_found(runtime.pool, caller, f"credential {credential_id}", owner_tenant=owner)
    return found


@router.get("/progress")
async def list_progress(
    request: Request, caller: Caller, participant: Participant = None, provider: ProviderFilter = None,
    course: Annotated[str | None, Query(description="course id")] = None, cursor: str | None = None, limit: int = 50,
) -> dict[str, Any]:
    """The latest known progress per participant and course, most recently measured first."""
    limit = clamp_limit(limit)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        rows = await store.list_progress(conn, tenant=caller.tenant, participant=participant, provider=provider,
                                         course=course, after=decode_time_cursor(cursor), limit=limit + 1)
    return _page(rows, limit, "updated_at", "progress_id")
