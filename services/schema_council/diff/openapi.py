"""OpenAPI 3.0 / 3.1 diff: operations, parameters, request bodies and responses.

Roles: BACKWARD asks "does the new server still serve old clients?", FORWARD "do new
clients still work against the old server?". The server reads requests (parameters and
bodies: JSON Schema flags as for data), clients read responses (flags swapped).

* operation (method + path; path parameter names do not matter) removed: breaks BACKWARD;
  added: breaks FORWARD (a new client calls what the old server lacks).
* parameter (in + name) or request body added: breaks BACKWARD when required; removed:
  breaks FORWARD when it was required; required <-> optional and schema changes as data.
* request media type removed: type_narrowed (breaks BACKWARD); added: type_widened.
* response status 2xx/3xx added: breaks BACKWARD (old clients do not expect it); removed:
  breaks FORWARD. 4xx/5xx/default added or removed: compatible (clients must handle errors).
* response media types and schemas: as data, flags swapped.

Not analysed: headers of responses, callbacks, webhooks, links, security schemes.
"""

from __future__ import annotations

import re
from typing import Any

from services.schema_council.diff.jsonschema import Scope, diff_schemas
from services.schema_council.diff.jsonschema import resolve as resolve_ref
from services.schema_council.diff.model import Change, ChangeKind, DiffError, change

K = ChangeKind
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def check(doc: Any) -> None:
    if not isinstance(doc, dict):
        raise DiffError("an OpenAPI document must be a JSON/YAML object")
    version = doc.get("openapi")
    if not isinstance(version, str) or not version.startswith("3."):
        if "swagger" in doc:
            raise DiffError("Swagger 2.0 is not supported; convert the document to OpenAPI 3.x")
        raise DiffError("an OpenAPI document needs \"openapi\": \"3.x\"")
    paths = doc.get("paths", {})
    if not isinstance(paths, dict):
        raise DiffError("paths must be an object")
    for path, item in paths.items():
        if not isinstance(path, str) or not path.startswith("/"):
            raise DiffError(f"path {path!r} must start with '/'")
        if not isinstance(_deref(doc, item), dict):
            raise DiffError(f"path item {path} must be an object")
    for (method, _), (path, op, shared) in _operations(doc).items():
        where = f"{method} {path}"
        _params(doc, shared, op, where)
        for key in ("responses", "requestBody"):
            if key in op and not isinstance(_deref(doc, op[key]), dict):
                raise DiffError(f"{where}: {key} must be an object")


def _deref(doc: dict, node: Any) -> Any:
    hops = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        node = resolve_ref(node["$ref"], Scope((doc,)))
        hops += 1
        if hops > 16:
            raise DiffError("circular $ref")
    return node


def _operations(doc: dict) -> dict[tuple[str, str], tuple[str, dict, list]]:
    out: dict[tuple[str, str], tuple[str, dict, list]] = {}
    for path, item in (doc.get("paths") or {}).items():
        item = _deref(doc, item)
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            if not isinstance(op, dict):
                raise DiffError(f"{method.upper()} {path} must be an object")
            key = (method.upper(), re.sub(r"\{[^}]*\}", "{}", path))
            out[key] = (path, op, shared)
    return out


def _params(doc: dict, shared: list, op: dict, where: str) -> dict[tuple[str, str], dict]:
    params: dict[tuple[str, str], dict] = {}
    for raw in [*(shared or []), *(op.get("parameters") or [])]:
        p = _deref(doc, raw)
        if not isinstance(p, dict) or not isinstance(p.get("name"), str) or p.get("in") not in ("query", "header", "path", "cookie"):
            raise DiffError(f"{where}: every parameter needs a name and in: query|header|path|cookie")
        key = (p["in"], p["name"].lower() if p["in"] == "header" else p["name"])
        params[key] = p
    return params


def _param_schema(p: dict) -> Any:
    if "schema" in p:
        return p["schema"]
    content = p.get("content") or {}
    for media in content.values():
        return (media or {}).get("schema", True)
    return True


def _is_success(status: str) -> bool:
    return status[:1] in ("1", "2", "3")


def diff_openapi(old: dict, new: dict) -> list[Change]:
    check(old)
    check(new)
    old_ops, new_ops = _operations(old), _operations(new)
    changes: list[Change] = []
    for key in sorted(old_ops.keys() - new_ops.keys()):
        path = old_ops[key][0]
        changes.append(change(K.OPERATION_REMOVED, f"{key[0]} {path}", f"operation {key[0]} {path} removed"))
    for key in sorted(new_ops.keys() - old_ops.keys()):
        path = new_ops[key][0]
        changes.append(change(K.OPERATION_ADDED, f"{key[0]} {path}", f"operation {key[0]} {path} added"))
    for key in sorted(old_ops.keys() & new_ops.keys()):
        _, o_op, o_shared = old_ops[key]
        n_path, n_op, n_shared = new_ops[key]
        changes += _diff_operation(old, new, f"{key[0]} {n_path}", o_op, o_shared, n_op, n_shared)
    return changes


def _schema_changes(old_doc: dict, new_doc: dict, old: Any, new: Any, prefix: str, *, response: bool) -> list[Change]:
    found = diff_schemas(old, new, old_root=old_doc, new_root=new_doc)
    return [(c.swapped() if response else c).at(prefix + " ") for c in found]


def _diff_operation(old_doc: dict, new_doc: dict, prefix: str, o_op: dict, o_shared: list, n_op: dict,
                    n_shared: list) -> list[Change]:
    changes: list[Change] = []
    o_params = _params(old_doc, o_shared, o_op, prefix)
    n_params = _params(new_doc, n_shared, n_op, prefix)
    for key in sorted(o_params.keys() - n_params.keys()):
        required = bool(o_params[key].get("required")) or key[0] == "path"
        kind = K.REQUIRED_FIELD_REMOVED if required else K.FIELD_REMOVED
        changes.append(change(kind, f"{prefix} {key[0]}:{key[1]}",
                              f"{'required' if required else 'optional'} {key[0]} parameter '{key[1]}' removed"))
    for key in sorted(n_params.keys() - o_params.keys()):
        required = bool(n_params[key].get("required")) or key[0] == "path"
        kind = K.REQUIRED_FIELD_ADDED if required else K.FIELD_ADDED
        changes.append(change(kind, f"{prefix} {key[0]}:{key[1]}",
                              f"{'required' if required else 'optional'} {key[0]} parameter '{key[1]}' added"))
    for key in sorted(o_params.keys() & n_params.keys()):
        po, pn = o_params[key], n_params[key]
        where = f"{prefix} {key[0]}:{key[1]}"
        was, now = bool(po.get("required")), bool(pn.get("required"))
        if was and not now:
            changes.append(change(K.FIELD_MADE_OPTIONAL, where, "parameter required -> optional"))
        elif now and not was:
            changes.append(change(K.FIELD_MADE_REQUIRED, where, "parameter optional -> required"))
        changes += _schema_changes(old_doc, new_doc, _param_schema(po), _param_schema(pn), where, response=False)
    changes += _diff_request(old_doc, new_doc, prefix, o_op, n_op)
    changes += _diff_responses(old_doc, new_doc, prefix, o_op, n_op)
    return changes


def _diff_request(old_doc: dict, new_doc: dict, prefix: str, o_op: dict, n_op: dict) -> list[Change]:
    o_body = _deref(old_doc, o_op.get("requestBody"))
    n_body = _deref(new_doc, n_op.get("requestBody"))
    where = f"{prefix} request"
    if o_body is None and n_body is None:
        return []
    if o_body is None:
        required = bool(n_body.get("required"))
        return [change(K.REQUIRED_FIELD_ADDED if required else K.FIELD_ADDED, where,
                       f"{'required' if required else 'optional'} request body added")]
    if n_body is None:
        required = bool(o_body.get("required"))
        return [change(K.REQUIRED_FIELD_REMOVED if required else K.FIELD_REMOVED, where,
                       f"{'required' if required else 'optional'} request body removed")]
    changes: list[Change] = []
    was, now = bool(o_body.get("required")), bool(n_body.get("required"))
    if was and not now:
        changes.append(change(K.FIELD_MADE_OPTIONAL, where, "request body required -> optional"))
    elif now and not was:
        changes.append(change(K.FIELD_MADE_REQUIRED, where, "request body optional -> required"))
    changes += _diff_content(old_doc, new_doc, where, o_body.get("content") or {}, n_body.get("content") or {},
                             response=False)
    return changes


def _diff_content(old_doc: dict, new_doc: dict, where: str, o_content: dict, n_content: dict, *,
                  response: bool) -> list[Change]:
    changes: list[Change] = []
    for media in sorted(o_content.keys() - n_content.keys()):
        c = change(K.TYPE_NARROWED, f"{where} {media}", f"media type {media} no longer {'returned' if response else 'accepted'}")
        changes.append(c.swapped() if response else c)
    for media in sorted(n_content.keys() - o_content.keys()):
        c = change(K.TYPE_WIDENED, f"{where} {media}", f"media type {media} {'may be returned' if response else 'accepted'}")
        changes.append(c.swapped() if response else c)
    for media in sorted(o_content.keys() & n_content.keys()):
        o_schema = (o_content[media] or {}).get("schema", True)
        n_schema = (n_content[media] or {}).get("schema", True)
        changes += _schema_changes(old_doc, new_doc, o_schema, n_schema, f"{where} {media}", response=response)
    return changes


def _diff_responses(old_doc: dict, new_doc: dict, prefix: str, o_op: dict, n_op: dict) -> list[Change]:
    o_resp = {str(k): _deref(old_doc, v) for k, v in (o_op.get("responses") or {}).items()}
    n_resp = {str(k): _deref(new_doc, v) for k, v in (n_op.get("responses") or {}).items()}
    changes: list[Change] = []
    for status in sorted(o_resp.keys() - n_resp.keys()):
        success = _is_success(status)
        changes.append(change(K.RESPONSE_REMOVED, f"{prefix} response {status}", f"response {status} removed",
                              **({} if success else {"backward": True, "forward": True})))
    for status in sorted(n_resp.keys() - o_resp.keys()):
        success = _is_success(status)
        changes.append(change(K.RESPONSE_ADDED, f"{prefix} response {status}", f"response {status} added",
                              **({} if success else {"backward": True, "forward": True})))
    for status in sorted(o_resp.keys() & n_resp.keys()):
        o_content = (o_resp[status] or {}).get("content") or {}
        n_content = (n_resp[status] or {}).get("content") or {}
        changes += _diff_content(old_doc, new_doc, f"{prefix} response {status}", o_content, n_content, response=True)
    return changes
