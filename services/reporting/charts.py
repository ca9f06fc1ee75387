"""Charts rendered on the server (matplotlib Agg, no pyplot state) as PNG bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from services.reporting import domain  # noqa: E402


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return buf.getvalue()


def outcome_counts_png(counts: Mapping[str, int], color: str = "#1f4e79") -> bytes:
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    labels = [domain.DIMENSION_LABELS.get(k, k) for k in counts] or ["none"]
    ax.bar(labels, list(counts.values()) or [0], color=color)
    ax.set_title("Evidence by outcome")
    ax.set_ylabel("evidence items")
    fig.tight_layout()
    return _png(fig)


def sroi_vis_png(sroi_ratio: float | None, vis_score: float | None, primary: str = "#1f4e79",
                 secondary: str = "#f28e2b") -> bytes:
    fig = Figure(figsize=(6, 3.2))
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.bar(["SROI"], [sroi_ratio or 0], color=primary)
    left.set_title("SROI (x : 1)" if sroi_ratio is not None else "SROI (no investment yet)")
    right.bar(["VIS"], [vis_score or 0], color=secondary)
    right.set_ylim(0, 100)
    right.set_title("VIS (0-100)")
    fig.tight_layout()
    return _png(fig)


def render_all(report: Mapping, theme: Mapping) -> list[tuple[str, bytes]]:
    """(title, png) for each chart recommendation of a report."""
    out = []
    for chart in report.get("charts") or []:
        if chart["chart"] == "outcome_counts":
            out.append((chart["title"], outcome_counts_png(chart["data"], theme["primary_color"])))
        elif chart["chart"] == "sroi_vis":
            data = chart["data"]
            out.append((chart["title"], sroi_vis_png(data.get("sroi_ratio"), data.get("vis_score"),
                                                     theme["primary_color"], theme["secondary_color"])))
    return out
