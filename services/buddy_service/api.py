"""HTTP routes of buddy-service. Every route needs a JWT; the tenant comes from the token.
Writes need the role company_user or admin.

  POST /v1/import/{kind}         CSV of one kind (text/csv body or multipart field 'file') -> import report
  POST /v1/import                multipart with parts named matches / events / checkins / feedback -> one report
  POST /v1/matches | /v1/events | /v1/checkins | /v1/feedback
                                 JSON: one record or an array of records -> import report
  GET  /v1/imports/{import_id}   a stored import report
  GET  /v1/matches               filtered, cursor-paginated list, newest first
  GET  /v1/matches/{match_id}    one match with counts of its events, check-ins and feedback
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from starlette.datastructures import UploadFile

from services.buddy_service import domain, ingest, store
from summit_common import imports, tenancy
from summit_common.auth import Principal, current_principal, require_role
from summit_common.logs import get_logger
from summit_common.pagination import as_utc, clamp_limit, decode_time_cursor, encode_cursor
from summit_common.problems import Problem
from summit_contracts import new_id

log = get_logger(component="buddy-service")
router = APIRouter(prefix="/v1", tags=["buddy-service"])
Caller = Annotated[Principal, Depends(current_principal)]
Writer = Annotated[Principal, Depends(require_role("company_user", "admin"))]
Kind = Literal["matches", "events", "checkins", "feedback"]
Timezone = Annotated[str, Query(description="IANA zone for date-times without an offset (default UTC)")]


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
_BUNDLE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {k: {"type": "string", "format": "binary"} for k in domain.KINDS},
                    "description": "one CSV per kind, any subset; applied matches first",
                }
            }
        },
    }
}
_EXAMPLES = {
    "matches": {"match_id": "BM-1001", "participant_id": "BP-201", "buddy_id": "BB-301",
                "matched_at": "2024-02-01T10:00:00Z", "program": "Oslo Welcome"},
    "events": {"event_id": "BE-5001", "match_id": "BM-1001", "category": "cultural",
               "occurred_at": "2024-02-10T16:00:00Z", "duration_minutes": 120},
    "checkins": {"checkin_id": "BC-7001", "match_id": "BM-1001", "completed_at": "2024-02-15T09:00:00Z", "mood": 4,
                 "notes": "optional"},
    "feedback": {"feedback_id": "BF-9001", "match_id": "BM-1001", "from_role": "participant", "rating": 5,
                 "text": "optional", "submitted_at": "2024-03-01T12:00:00Z"},
}


def _json_body_doc(kind: str) -> dict[str, Any]:
    record = {"type": "object"}
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {
                "schema": {"oneOf": [record, {"type": "array", "items": record}]},
                "example": [_EXAMPLES[kind]],
            }},
        }
    }


def _context(timezone: str) -> domain.Context:
    try:
        domain.zone(timezone)
    except ValueError as exc:
        raise Problem(422, "unknown timezone", str(exc)) from None
    return domain.Context(now=datetime.now(UTC), timezone=timezone)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _rejected(exc: domain.ImportRejected) -> Problem:
    extra = {"missing_columns": list(exc.missing_columns)} if exc.missing_columns else {}
    return Problem(422, "import rejected", str(exc), **extra)


async def _upload_bytes(value: Any) -> tuple[bytes, str | None]:
    if isinstance(value, UploadFile):
        return await value.read(), value.filename
    return str(value).encode(), None


async def _run_import(
    request: Request, caller: Principal, *, sections: list[domain.Parsed], fmt: str, ctx: domain.Context,
    digest: str, single: bool = False,
) -> dict[str, Any]:
    """Store what is new, emit its events and store the report, all in one transaction."""
    runtime = request.app.state.runtime
    import_id = new_id()
    async with runtime.unit_of_work(tenant=caller.tenant, correlationid=request.state.correlation_id) as uow:
        results = await ingest.ingest(uow, tenant=caller.tenant, sections=sections, origin=fmt, import_id=import_id)
        report = domain.build_report(import_id=import_id, fmt=fmt, timezone=ctx.timezone, sections=results,
                                     imported_by=caller.sub, created_at=datetime.now(UTC))
        if single and report["rejected"]:
            # One record sent on its own: answer like a plain API call. Raising rolls everything back.
            raise Problem(422, f"invalid {domain.SPECS[sections[0].kind].singular}", report["errors"][0]["reason"],
                          errors=report["errors"])
        await store.insert_import(uow.conn, tenant=caller.tenant, report=report, content_sha256=digest)
    log.info("buddy_import", tenant=caller.tenant, import_id=import_id, format=fmt,
             kinds=[s.kind for s in sections], rows=report["rows_total"], accepted=report["accepted"],
             rejected=report["rejected"], duplicates=report["duplicates"])
    return report


# --- CSV imports ------------------------------------------------------------------------


@router.post("/import/{kind}", status_code=201, openapi_extra=_CSV_BODY)
async def import_csv(kind: Kind, request: Request, response: Response, caller: Writer, timezone: Timezone = "UTC") -> dict[str, Any]:
    """Import a CSV of one kind. Good rows are stored even when others are rejected (the report lists
    each rejected row with its line and reason); a file-level problem stores nothing."""
    ctx = _context(timezone)
    media = _media_type(request)
    if media == "multipart/form-data":
        async with request.form() as form:
            upload = form.get("file")
            if upload is None:
                raise Problem(422, "file missing", "send the CSV as the multipart form field 'file'")
            body, filename = await _upload_bytes(upload)
    elif media and media not in imports.CSV_MEDIA_TYPES:
        raise Problem(415, "unsupported media type", f"send the CSV as text/csv or multipart/form-data, not {media}")
    else:
        body, filename = await request.body(), None
    try:
        parsed = domain.parse_csv(kind, domain.decode_csv(body), ctx, filename=filename)
    except domain.ImportRejected as exc:
        raise _rejected(exc) from None
    report = await _run_import(request, caller, sections=[parsed], fmt="csv", ctx=ctx, digest=domain.content_digest(body))
    response.headers["Location"] = f"/v1/imports/{report['import_id']}"
    return report


@router.post("/import", status_code=201, openapi_extra=_BUNDLE_BODY)
async def import_bundle(request: Request, response: Response, caller: Writer, timezone: Timezone = "UTC") -> dict[str, Any]:
    """Import CSVs of several kinds at once (multipart parts named after the kind). They are applied
    matches first, in one transaction, so events, check-ins and feedback may refer to matches of the same upload."""
    ctx = _context(timezone)
    if _media_type(request) != "multipart/form-data":
        raise Problem(415, "unsupported media type",
                      "send multipart/form-data with parts named matches, events, checkins or feedback")
    sections: list[domain.Parsed] = []
    digests: list[str] = []
    async with request.form() as form:
        unknown = sorted(set(form.keys()) - set(domain.KINDS))
        if unknown:
            raise Problem(422, "unknown part", f"unknown part(s) {', '.join(map(repr, unknown))};"
                          f" name each CSV part after its kind: {', '.join(domain.KINDS)}")
        for kind in domain.KINDS:
            parts = form.getlist(kind)
            if len(parts) > 1:
                raise Problem(422, "repeated part", f"send one {kind!r} part (merge the files)")
            if not parts:
                continue
            body, filename = await _upload_bytes(parts[0])
            try:
                sections.append(domain.parse_csv(kind, domain.decode_csv(body), ctx, filename=filename))
            except domain.ImportRejected as exc:
                raise _rejected(exc) from None
            digests.append(f"{kind}:{domain.content_digest(body)}")
    if not sections:
        raise Problem(422, "nothing to import", f"send at least one part named {', '.join(domain.KINDS)}")
    report = await _run_import(request, caller, sections=sections, fmt="csv", ctx=ctx,
                               digest=domain.content_digest("\n".join(digests).encode()))
    response.headers["Location"] = f"/v1/imports/{report['import_id']}"
    return report


# --- JSON imports -----------------------------------------------------------------------


def _json_import_route(kind: str):
    singular = domain.SPECS[kind].singular

    async def import_json(request: Request, response: Response, caller: Writer, timezone: Timezone = "UTC") -> dict[str, Any]:
        ctx = _context(timezone)
        media = _media_type(request)
        if media != "application/json" and not media.endswith("+json"):
            raise Problem(415, "unsupported media type", f"send application/json, not {media or 'no content type'}")
        body = await request.body()
        try:
            payload = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise Problem(422, "invalid JSON", "the body is not valid JSON") from None
        try:
            parsed = domain.parse_json(kind, payload, ctx)
        except domain.ImportRejected as exc:
            raise _rejected(exc) from None
        single = isinstance(payload, dict)
        if single and parsed.errors:
            raise Problem(422, f"invalid {singular}", str(domain.RowInvalid(parsed.errors)),
                          errors=[e.as_dict() for e in parsed.errors])
        report = await _run_import(request, caller, sections=[parsed], fmt="json", ctx=ctx,
                                   digest=domain.content_digest(body), single=single)
        response.headers["Location"] = f"/v1/imports/{report['import_id']}"
        return report

    import_json.__name__ = f"import_{kind}_json"
    import_json.__doc__ = (
        f"Import {kind} as JSON: one record, or an array of records. In an array, good records are stored even when"
        f" others are rejected (the report lists each by index). A single record that is rejected is a 422 and stores nothing."
    )
    return import_json


for _kind in domain.KINDS:
    router.add_api_route(f"/{_kind}", _json_import_route(_kind), methods=["POST"], status_code=201,
                         openapi_extra=_json_body_doc(_kind), name=f"import_{_kind}_json")


# --- queries ----------------------------------------------------------------------------


@router.get("/imports/{import_id}")
async def get_import(import_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    return await imports.get_import_report(request, caller, import_id, columns=store.IMPORT_REPORT_COLUMNS)


@router.get("/matches")
async def list_matches(
    request: Request,
    caller: Caller,
    participant: Annotated[str | None, Query(description="buddy-system participant id")] = None,
    buddy: Annotated[str | None, Query(description="buddy-system buddy id")] = None,
    program: str | None = None,
    matched_from: Annotated[datetime | None, Query(alias="from", description="matched at or after (inclusive)")] = None,
    matched_to: Annotated[datetime | None, Query(alias="to", description="matched before (exclusive)")] = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The caller's tenant's matches, newest first; naive times in filters are UTC."""
    limit = clamp_limit(limit)
    after = decode_time_cursor(cursor)
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        rows = await store.list_matches(
            conn, tenant=caller.tenant, participant=participant, buddy=buddy, program=program,
            matched_from=as_utc(matched_from), matched_to=as_utc(matched_to), after=after, limit=limit + 1,
        )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_cursor(page[-1]["matched_at"], page[-1]["match_id"]) if more else None
    return {"items": page, "next_cursor": next_cursor}


@router.get("/matches/{match_id}")
async def get_match(match_id: str, request: Request, caller: Caller) -> dict[str, Any]:
    """One match with the counts of its events, check-ins and feedback."""
    runtime = request.app.state.runtime
    async with runtime.pool.acquire() as conn:
        match = await store.get_match(conn, tenant=caller.tenant, match_id=match_id)
        if match is None:
            owner = await store.match_owner(conn, match_id=match_id)
            raise await tenancy.not_found(runtime.pool, caller, f"match {match_id}", owner_tenant=owner)
    return match
