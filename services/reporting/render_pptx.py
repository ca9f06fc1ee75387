"""The PPTX export (python-pptx): a title slide with the tenant's logo and colours, a slide
per section, a slide per chart, the watermark by approval status on every slide, and the
evidence hash in every slide's notes. Pure: report + theme + chart PNGs in, bytes out."""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Emu, Inches, Pt

from services.reporting.render_pdf import TEMPLATE_TITLES, watermark_text


def _rgb(hex_color: str) -> RGBColor:
    return RGBColor.from_string(hex_color.lstrip("#").upper())


def render(report: Mapping, theme: Mapping, charts: Sequence[tuple[str, bytes]]) -> bytes:
    prs = Presentation()
    prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
    primary, secondary = _rgb(theme["primary_color"]), _rgb(theme["secondary_color"])
    mark = watermark_text(report["status"])
    notes = f"Evidence hash: {report['evidence_hash']}\nReport {report['id']}"

    def finish(slide) -> None:
        if mark == "DRAFT":
            box = slide.shapes.add_textbox(Inches(3), Inches(2.5), Inches(7.5), Inches(2))
            box.rotation = -30
            run = box.text_frame.paragraphs[0].add_run()
            run.text = mark
            run.font.size, run.font.bold = Pt(110), True
            run.font.color.rgb = RGBColor(0xE0, 0xB0, 0xB0)
        else:
            box = slide.shapes.add_textbox(prs.slide_width - Inches(2.2), Inches(0.1), Inches(2), Inches(0.5))
            run = box.text_frame.paragraphs[0].add_run()
            run.text = mark
            run.font.size, run.font.color.rgb = Pt(14), secondary
        slide.notes_slide.notes_text_frame.text = notes

    def titled(title: str):
        slide = prs.slides.add_slide(prs.slide_layouts[5])  # title only
        slide.shapes.title.text = title
        slide.shapes.title.text_frame.paragraphs[0].runs[0].font.color.rgb = primary
        return slide

    cover = prs.slides.add_slide(prs.slide_layouts[0])
    cover.shapes.title.text = f"{TEMPLATE_TITLES.get(report['template'], report['template'])}: {report['period']}"
    cover.shapes.title.text_frame.paragraphs[0].runs[0].font.color.rgb = primary
    cover.placeholders[1].text = f"{report['company_id']} | status {report['status']}"
    if theme.get("logo_png"):
        cover.shapes.add_picture(io.BytesIO(theme["logo_png"]), Inches(0.4), Inches(0.3), height=Inches(1))
    finish(cover)

    for section in report["sections"]:
        slide = titled(section["title"])
        box = slide.shapes.add_textbox(Inches(0.7), Inches(1.6), prs.slide_width - Inches(1.4), Inches(5.4))
        frame = box.text_frame
        frame.word_wrap = True
        for i, paragraph in enumerate(section["paragraphs"]):
            p = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            p.text = paragraph["text"]
            p.font.size = Pt(16)
        finish(slide)

    for title, png in charts:
        slide = titled(title)
        slide.shapes.add_picture(io.BytesIO(png), Inches(1.5), Inches(1.5), height=Emu(Inches(5.5)))
        finish(slide)

    buf = io.BytesIO()
    prs.save(buf)
    return buf.getvalue()
