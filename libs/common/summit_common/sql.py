"""A WHERE clause for list queries: optional filters and a keyset cursor, values bound as $n."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

_NAME = re.compile(r"^[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)?$")


class Where:
    """Conditions joined by AND. Column names come from code (checked, never from a request);
    values are bound in order, so `args` lines up with the placeholders.

        where = Where().equal("tenant_id", tenant).equal("status", status).keyset_below(("at", "id"), after)
        await conn.fetch(f"SELECT ... FROM t {where} ORDER BY at DESC, id DESC LIMIT {where.bind(limit)}", *where.args)

    A condition whose value is None is a filter the caller did not give: it is left out.
    """

    def __init__(self) -> None:
        self.conditions: list[str] = []
        self.args: list[Any] = []

    def bind(self, value: Any) -> str:
        """Bind one more value; returns its placeholder (e.g. for LIMIT)."""
        self.args.append(value)
        return f"${len(self.args)}"

    def _compare(self, column: str, operator: str, value: Any) -> Where:
        if value is not None:
            self.conditions.append(f"{identifier(column)} {operator} {self.bind(value)}")
        return self

    def equal(self, column: str, value: Any) -> Where:
        return self._compare(column, "=", value)

    def at_least(self, column: str, value: Any) -> Where:
        return self._compare(column, ">=", value)

    def below(self, column: str, value: Any) -> Where:
        return self._compare(column, "<", value)

    def condition(self, sql: str, *values: Any) -> Where:
        """A condition written in code (never from a request), one `{}` per value, each bound:
        `.condition("{} = ANY(affected)", node)`. Left out when every value is None."""
        if values and all(v is None for v in values):
            return self
        self.conditions.append(sql.format(*(self.bind(v) for v in values)))
        return self

    def keyset_below(self, columns: Sequence[str], key: Sequence[Any] | None) -> Where:
        """`(a, b) < ($n, $m)`: the rows after `key` in a list sorted by `columns` descending."""
        if key is not None:
            if len(columns) != len(key):
                raise ValueError("a keyset cursor needs one value per column")
            names = ", ".join(identifier(c) for c in columns)
            self.conditions.append(f"({names}) < ({', '.join(self.bind(v) for v in key)})")
        return self

    def __str__(self) -> str:
        return f"WHERE {' AND '.join(self.conditions)}" if self.conditions else ""


def identifier(name: str) -> str:
    """`name` if it is a plain (optionally table-qualified) lower-case SQL name, else ValueError."""
    if not _NAME.match(name):
        raise ValueError(f"not a plain SQL name: {name!r}")
    return name
