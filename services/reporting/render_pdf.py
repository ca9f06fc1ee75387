"""The PDF export (reportlab): branded title, sections with citation ids, server-rendered
charts, an evidence appendix, a watermark by approval status and the evidence hash in the
footer of every page. Pure: report + theme + chart PNGs in, bytes out."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer

TEMPLATE_TITLES = {"quarterly": "Quarterly impact report", "annual": "Annual impact report",
                   "investor_update": "Investor update", "impact_deep_dive": "Impact deep dive"}


def watermark_text(status: str) -> str:
    return "APPROVED" if status == "approved" else "DRAFT"


def render(report: Mapping, theme: Mapping, charts: Sequence[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    primary = colors.HexColor(theme["primary_color"])
    secondary = colors.HexColor(theme["secondary_color"])
    logo = theme.get("logo_png")
    mark = watermark_text(report["status"])

    def decorate(canvas, doc) -> None:
        width, height = A4
        canvas.saveState()
        if mark == "DRAFT":
            canvas.setFillColor(colors.Color(0.85, 0.1, 0.1, alpha=0.18))
            canvas.setFont("Helvetica-Bold", 96)
            canvas.translate(width / 2, height / 2)
            canvas.rotate(45)
            canvas.drawCentredString(0, 0, mark)
        else:
            canvas.setFillColor(secondary)
            canvas.setFont("Helvetica-Bold", 10)
            canvas.drawRightString(width - 1.5 * cm, height - 1.2 * cm, mark)
        canvas.restoreState()
        canvas.saveState()
        canvas.setFillColor(primary)
        canvas.rect(0, height - 0.6 * cm, width, 0.6 * cm, stroke=0, fill=1)
        if logo:
            canvas.drawImage(ImageReader(io.BytesIO(logo)), 1.5 * cm, height - 2.2 * cm, width=3 * cm, height=1.4 * cm,
                             preserveAspectRatio=True, mask="auto")
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.grey)
        canvas.drawString(1.5 * cm, 1 * cm, f"Evidence hash: {report['evidence_hash']}")
        canvas.drawRightString(width - 1.5 * cm, 1 * cm, f"Report {report['id']} | page {doc.page}")
        canvas.restoreState()

    styles = getSampleStyleSheet()
    h1 = ParagraphStyle("h1", parent=styles["Title"], textColor=primary)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], textColor=primary)
    body = styles["BodyText"]
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10)
    story = [Spacer(1, 1.2 * cm),
             Paragraph(escape(f"{TEMPLATE_TITLES.get(report['template'], report['template'])}: {report['period']}"), h1),
             Paragraph(escape(f"{report['company_id']} | status {report['status']}"), body), Spacer(1, 0.4 * cm)]
    for section in report["sections"]:
        story.append(Paragraph(escape(section["title"]), h2))
        for paragraph in section["paragraphs"]:
            story.append(Paragraph(escape(paragraph["text"]), body))
    for title, png in charts:
        story += [Paragraph(escape(title), h2), Image(io.BytesIO(png), width=15 * cm, height=8 * cm)]
    evidence = report.get("evidence") or []
    if evidence:
        story.append(Paragraph("Cited evidence", h2))
        for ev in evidence:
            text = ev.get("preview") or "[not available]"
            story.append(Paragraph(escape(f"[{ev['evidence_id']}] {text}"), small))
    doc = SimpleDocTemplate(buf, pagesize=A4, title=TEMPLATE_TITLES.get(report["template"], "Report"),
                            topMargin=2.5 * cm, bottomMargin=2 * cm)
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return buf.getvalue()
