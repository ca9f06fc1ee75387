"""Schema diffs, one module per format, and the compatibility modes. Pure: no I/O.

    diff_documents(kind, old, new) -> [Change]       every change, each with backward/forward flags
    check_document(kind, document)                    DiffError when the document cannot be read
    compat.assess(version_diffs, Mode.FULL)           the verdict of a compatibility mode
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import yaml

from services.schema_council.diff import asyncapi, graphql, jsonschema, openapi, protobuf
from services.schema_council.diff.compat import Mode, Verdict, VersionDiff, all_modes, assess, version_diffs
from services.schema_council.diff.model import DATA_RULES, Change, ChangeKind, DiffError

KINDS = ("jsonschema", "openapi", "asyncapi", "protobuf", "graphql")
TEXT_KINDS = ("protobuf", "graphql")

__all__ = [
    "DATA_RULES", "KINDS", "TEXT_KINDS", "Change", "ChangeKind", "DiffError", "Mode", "Verdict", "VersionDiff",
    "all_modes", "assess", "check_document", "coerce_document", "diff_documents", "version_diffs",
]


def coerce_document(kind: str, document: Any) -> Any:
    """The document in its working form: a JSON value for JSON Schema/OpenAPI/AsyncAPI (a
    JSON or YAML string is parsed), the source text for protobuf and GraphQL."""
    if kind not in KINDS:
        raise DiffError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
    if kind in TEXT_KINDS:
        if not isinstance(document, str):
            raise DiffError(f"a {kind} document is the source text: send it as a JSON string")
        return document
    if isinstance(document, str):
        try:
            return json.loads(document)
        except ValueError:
            pass
        try:
            return yaml.safe_load(document)
        except yaml.YAMLError as exc:
            raise DiffError(f"the {kind} document is neither JSON nor YAML: {exc}".split("\n")[0]) from None
    return document


def check_document(kind: str, document: Any) -> None:
    """Raise DiffError (with what and where) when the document is not a readable `kind` document."""
    if kind == "jsonschema":
        jsonschema.check_schema(document)
    elif kind == "openapi":
        openapi.check(document)
    elif kind == "asyncapi":
        asyncapi.check(document)
    elif kind == "protobuf":
        protobuf.check(document)
    elif kind == "graphql":
        graphql.check(document)
    else:
        raise DiffError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")


def diff_documents(kind: str, old: Any, new: Any, *, rename_hints: Mapping[str, str] | None = None) -> list[Change]:
    if kind == "jsonschema":
        return jsonschema.diff_schemas(old, new, rename_hints=rename_hints)
    if kind == "openapi":
        return openapi.diff_openapi(old, new)
    if kind == "asyncapi":
        return asyncapi.diff_asyncapi(old, new)
    if kind == "protobuf":
        return protobuf.diff_protobuf(old, new)
    if kind == "graphql":
        return graphql.diff_graphql(old, new)
    raise DiffError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")


def differ_for(kind: str, *, rename_hints: Mapping[str, str] | None = None):
    return lambda old, new: diff_documents(kind, old, new, rename_hints=rename_hints)


