"""The brief as an A4 portrait PDF in Chinese (reportlab): title, time and author, the summary,
the map with its caption and 审图号 line, the tables (split across pages with their header
repeated), the notes, and "应急一张图 onemap · 第 N 页 / 共 M 页" at the foot of every page.

Everything is real text in the embedded CJK font (``fonts.find_cjk_font``), so it can be searched
and copied; text from data is escaped, never read as reportlab's paragraph markup.
"""

# mypy: disable-error-code="import-untyped"
# (reportlab ships no types; types-reportlab, when installed, is used)

from __future__ import annotations

import functools
import io
import logging
from typing import Any
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    HRFlowable,
    Image,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from .content import Brief, BriefTable, clean_text
from .fonts import find_cjk_font, find_fallback_font
from .map_image import FRAME_MM, render_map_image

logger = logging.getLogger(__name__)

# Binary streams rather than ASCII85: reportlab's ASCII85 runs in pure Python without its
# optional C accelerator, 0.15 s per map image, and makes the file a quarter larger.
rl_config.useA85 = 0

FONT = "OnemapCJK"
FALLBACK_FONT = "OnemapFallback"
MARGIN_MM = 18.0
MAX_CELL_CHARS = 200
"""A table cell longer than this is cut with "…" (a row must fit on a page; the XLSX keeps it whole)."""
FOOTER = "应急一张图 onemap · 第 {page} 页 / 共 {pages} 页"
_HEADER_FILL, _RULE, _ZEBRA, _MUTED = colors.HexColor("#e6ebf1"), colors.HexColor("#9aa5b1"), colors.HexColor("#f6f8fa"), colors.HexColor("#555555")


@functools.cache
def _registered() -> tuple[TTFont, TTFont | None]:
    cjk_file, fallback_file = find_cjk_font(), find_fallback_font()
    cjk = TTFont(FONT, str(cjk_file.path), subfontIndex=cjk_file.index)
    pdfmetrics.registerFont(cjk)
    fallback = None if fallback_file is None else TTFont(FALLBACK_FONT, str(fallback_file.path), subfontIndex=fallback_file.index)
    if fallback is not None:
        pdfmetrics.registerFont(fallback)
    return cjk, fallback


def register_font() -> str:
    """Register the CJK font (and the fallback font, when there is one) with reportlab, once;
    return the CJK font's reportlab name."""
    _registered()
    return FONT


@functools.cache
def _glyphs() -> tuple[frozenset[int], frozenset[int]]:
    """The code points the CJK font and the fallback font draw."""
    cjk, fallback = _registered()
    return frozenset(cjk.face.charToGlyph), frozenset(fallback.face.charToGlyph) if fallback is not None else frozenset()


@functools.cache
def _styles() -> dict[str, ParagraphStyle]:
    font = register_font()

    def style(name: str, size: float, **options: Any) -> ParagraphStyle:
        # CJK wrapping: a line may break between any two characters, so a long name without
        # spaces (Chinese has none) wraps instead of running off the page.
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=options.pop("leading", size * 1.4), wordWrap="CJK", **options)

    return {
        "title": style("title", 20, alignment=TA_CENTER, spaceAfter=3 * mm, leading=27),
        "meta": style("meta", 10, alignment=TA_CENTER, textColor=_MUTED, spaceAfter=2 * mm),
        "summary": style("summary", 10.5, leftIndent=5 * mm, bulletIndent=1 * mm, spaceAfter=1.2 * mm, leading=16),
        "heading": style("heading", 12.5, spaceBefore=4 * mm, spaceAfter=2 * mm, leading=17),
        "caption": style("caption", 9.5, alignment=TA_LEFT),
        "review": style("review", 8.5, alignment=TA_RIGHT, textColor=_MUTED),
        "cell": style("cell", 8.5, leading=11),
        "number": style("number", 8.5, leading=11, alignment=TA_RIGHT),
        "head": style("head", 8.5, leading=11),
        "headnumber": style("headnumber", 8.5, leading=11, alignment=TA_RIGHT),
        "note": style("note", 8.5, textColor=_MUTED, spaceBefore=1.2 * mm, leading=12),
        "body": style("body", 10, leading=15, spaceAfter=1 * mm),
        "notes": style("notes", 9.5, leftIndent=6 * mm, bulletIndent=0, leading=14, spaceAfter=1 * mm),
    }


def _text(value: object) -> str:
    """Plain text as reportlab paragraph text: cleaned, <, >, & escaped, and the runs of
    characters the CJK font lacks but the fallback font has (Arabic, Hebrew …) set in that font."""
    text = clean_text(value)
    cjk, fallback = _glyphs()
    parts: list[str] = []
    run: list[str] = []
    in_fallback = False
    for character in text:
        code = ord(character)
        wants_fallback = code not in cjk and code in fallback
        if wants_fallback != in_fallback and run:
            parts.append(_run("".join(run), in_fallback))
            run = []
        in_fallback = wants_fallback
        run.append(character)
    if run:
        parts.append(_run("".join(run), in_fallback))
    return "".join(parts)


def _run(text: str, in_fallback: bool) -> str:
    return f'<font name="{FALLBACK_FONT}">{escape(text)}</font>' if in_fallback else escape(text)


def _footer(pages: int | None) -> Any:
    """The page callback drawing the rule and "第 N 页 / 共 M 页" at the foot of a page."""

    def draw(page: canvas.Canvas, document: BaseDocTemplate) -> None:
        page.saveState()
        page.setFont(FONT, 8)
        page.setFillColor(_MUTED)
        page.setStrokeColor(_RULE)
        page.setLineWidth(0.4)
        page.line(MARGIN_MM * mm, 12 * mm, A4[0] - MARGIN_MM * mm, 12 * mm)
        page.drawCentredString(A4[0] / 2, 8 * mm, FOOTER.format(page=document.page, pages=pages or "?"))
        page.restoreState()

    return draw


def render_brief_pdf(brief: Brief) -> bytes:
    """The brief as an A4 PDF (bytes). Raises ``FontNotFoundError`` when no Chinese font is installed.

    Laid out twice: the first pass counts the pages for the footers of the second (the footer
    sits in the margin, so the count does not change the layout)."""
    map_png = render_map_image(brief.map).png if brief.map is not None else None
    _, pages = _build(brief, None, pages=None)
    pdf, _ = _build(brief, map_png, pages=pages)
    return pdf


def _build(brief: Brief, map_png: bytes | None, *, pages: int | None) -> tuple[bytes, int]:
    """One layout of the brief: the PDF and its page count."""
    styles = _styles()
    width = A4[0] - 2 * MARGIN_MM * mm
    story: list[Flowable] = [
        Paragraph(_text(brief.title), styles["title"]),
        Paragraph(f"{_text(brief.made_at_text)}（北京时间）　编制：{_text(brief.author)}", styles["meta"]),
        HRFlowable(width="100%", thickness=0.8, color=_RULE, spaceBefore=1 * mm, spaceAfter=3 * mm),
    ]
    story += [Paragraph(_text(sentence), styles["summary"], bulletText="•") for sentence in brief.summary]
    if brief.map is not None:
        story += _map(map_png, brief.map.caption, brief.review_number, styles, width)
    for table in brief.tables:
        story += _table(table, styles, width)
    if brief.notes:
        notes = [Paragraph(_text(note), styles["notes"], bulletText=f"{number}.") for number, note in enumerate(brief.notes, start=1)]
        story.append(KeepTogether([Paragraph("说明", styles["heading"]), *notes]))  # on one page when they fit on one
    buffer = io.BytesIO()
    document = BaseDocTemplate(buffer, pagesize=A4, leftMargin=MARGIN_MM * mm, rightMargin=MARGIN_MM * mm, topMargin=MARGIN_MM * mm,
                               bottomMargin=MARGIN_MM * mm, title=clean_text(brief.title), author=clean_text(brief.author),
                               subject="应急一张图 简报", creator="onemap", invariant=True, lang="zh-CN")
    # A frame without reportlab's default 6 pt padding: the text block is exactly the page less the margins.
    frame = Frame(document.leftMargin, document.bottomMargin, document.width, document.height, leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    document.addPageTemplates([PageTemplate("page", [frame], onPage=_footer(pages))])
    document.build(story)
    return buffer.getvalue(), document.page


def _map(png: bytes | None, caption: str, review_number: str, styles: dict[str, ParagraphStyle], width: float) -> list[Flowable]:
    """The map image at its frame size, the caption on the left and the 审图号 on the right under it
    (``png`` None: a blank of the same size, for the pass that only counts pages)."""
    size = (FRAME_MM[0] * mm, FRAME_MM[1] * mm)
    picture = Image(io.BytesIO(png), width=size[0], height=size[1]) if png is not None else Spacer(*size)
    label = Paragraph(f"图 1　{_text(caption or '态势图')}", styles["caption"])
    under = Table([[label, Paragraph(_text(review_number), styles["review"])]], colWidths=[width * 0.7, width * 0.3])
    under.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0), ("RIGHTPADDING", (0, 0), (-1, -1), 0), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [Spacer(1, 3 * mm), KeepTogether([picture, Spacer(1, 1.5 * mm), under])]


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _table(table: BriefTable, styles: dict[str, ParagraphStyle], width: float) -> list[Flowable]:
    """A table's heading, the table (header row repeated on each page) or "无", and its note."""
    flowables: list[Flowable] = [CondPageBreak(35 * mm), Paragraph(_text(table.title), styles["heading"])]
    if not table.rows:
        flowables.append(Paragraph("无", styles["body"]))
    else:
        numeric = [table.is_numeric(column) for column in range(len(table.columns))]
        texts = [[_cut(clean_text(name)) for name in table.columns]]
        texts += [[_cut(table.format_cell(column, value)) for column, value in enumerate(row)] for row in table.rows]
        kinds = [("headnumber", "number") if is_number else ("head", "cell") for is_number in numeric]
        cells = [[Paragraph(_text(text), styles[kinds[c][min(r, 1)]]) for c, text in enumerate(row)] for r, row in enumerate(texts)]
        grid = Table(cells, colWidths=_column_widths(texts, numeric, width), repeatRows=1, hAlign="LEFT")
        grid.setStyle(TableStyle([
            ("BACKGROUND", (0, 0), (-1, 0), _HEADER_FILL),
            ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, _ZEBRA]),
            ("LINEABOVE", (0, 0), (-1, 0), 0.8, _RULE), ("LINEBELOW", (0, 0), (-1, 0), 0.6, _RULE),
            ("LINEBELOW", (0, -1), (-1, -1), 0.8, _RULE),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2.2), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.2),
            ("LEFTPADDING", (0, 0), (-1, -1), 3.5), ("RIGHTPADDING", (0, 0), (-1, -1), 3.5),
        ]))
        flowables.append(grid)
    if table.note:
        flowables.append(Paragraph(_text(table.note), styles["note"]))
    return flowables


def _column_widths(texts: list[list[str]], numeric: list[bool], width: float) -> list[float]:
    """Column widths (points) filling ``width``: each column's widest text, numbers kept whole and
    text columns narrowed (they wrap) when the table is too wide."""
    padding, size = 7.0, 8.5
    natural = [min(max(pdfmetrics.stringWidth(row[column], FONT, size) for row in texts) + padding + 1, 70 * mm) for column in range(len(numeric))]
    natural = [max(value, 9 * mm) for value in natural]
    total = sum(natural)
    if total <= width:  # widened to fill the line, but a narrow table not beyond 1.6 times its need
        return [value * min(width / total, 1.6) for value in natural]
    fixed = sum(value for value, is_number in zip(natural, numeric, strict=True) if is_number)
    flexible = total - fixed
    if fixed > 0.7 * width or flexible == 0:
        return [value * width / total for value in natural]
    squeeze = (width - fixed) / flexible
    return [value if is_number else value * squeeze for value, is_number in zip(natural, numeric, strict=True)]
