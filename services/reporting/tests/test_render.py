"""Exports are real files: read them back with pypdf and python-pptx."""

from __future__ import annotations

import io

from pptx import Presentation
from pypdf import PdfReader

from services.reporting import charts, domain, render_pdf, render_pptx
from services.reporting.reports import DEFAULT_THEME
from services.reporting.tests.test_domain import EVIDENCE, METRICS


def report(status="draft"):
    out = domain.build_narrative("annual", "2026", METRICS, EVIDENCE, seed=3)
    cited = domain.cited_ids(out["sections"])
    return {"id": "r-1", "report_id": "r-1", "company_id": "acme", "period": "2026", "template": "annual",
            "status": status, "sections": out["sections"], "charts": out["charts"],
            "evidence_hash": domain.evidence_hash(f"{i:064x}" for i in range(3)),
            "evidence": [{"evidence_id": c, "preview": "anonymised text"} for c in cited]}


def logo() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def test_pdf_has_sections_citations_hash_watermark_and_charts():
    r = report()
    theme = DEFAULT_THEME | {"logo_png": logo()}
    pictures = charts.render_all(r, theme)
    assert len(pictures) == 2 and all(png.startswith(b"\x89PNG") for _, png in pictures)
    pdf = PdfReader(io.BytesIO(render_pdf.render(r, theme, pictures)))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "Year in review" in text and "Social return" in text
    assert r["evidence_hash"] in text and "DRAFT" in text
    first = r["sections"][0]["paragraphs"][0]["citations"][0]
    assert first in text
    assert sum(len(page.images) for page in pdf.pages) >= 3  # two charts + logo
    approved = PdfReader(io.BytesIO(render_pdf.render(report("approved"), theme, pictures)))
    approved_text = "\n".join(page.extract_text() for page in approved.pages)
    assert "APPROVED" in approved_text and "DRAFT" not in approved_text


def test_pptx_has_slides_watermark_and_hash_in_notes():
    r = report()
    deck = Presentation(io.BytesIO(render_pptx.render(r, DEFAULT_THEME | {"logo_png": logo()}, charts.render_all(r, DEFAULT_THEME))))
    texts = [" ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame) for slide in deck.slides]
    assert any("Year in review" in t for t in texts)
    assert all("DRAFT" in t for t in texts)
    assert all(r["evidence_hash"] in slide.notes_slide.notes_text_frame.text for slide in deck.slides)
    pictures = sum(1 for slide in deck.slides for s in slide.shapes if s.shape_type == 13)
    assert pictures == 3
    approved = Presentation(io.BytesIO(render_pptx.render(report("approved"), DEFAULT_THEME, [])))
    assert all("APPROVED" in " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame) for slide in approved.slides)
