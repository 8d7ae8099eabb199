"""Printable forms as PDF: the contract review record (合同评审表), complaints, CAPA …

A form is a :class:`Document` made of sections (:class:`Heading`, :class:`FieldGrid`,
:class:`Table`, :class:`Paragraph`, :class:`Signatures`) holding strings the caller has
already translated; :func:`render_pdf` lays them out on A4 like a Chinese paper form:
company and title centred, record number top right, bordered cells, shaded labels and
table headers, a table header repeated after a page break, and a footer with the caller's
text and ``Document.page_label`` (e.g. ``"第 %(page)d 页 / 共 %(pages)d 页"``). The
renderer translates nothing itself.

The font is embedded (as a subset), so the PDF looks the same on any machine; it is found
by :func:`resolve_font` (docs/pdf.md). Library and font choice:
docs/decisions/0310-pdf-library-and-chinese-font.md.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

from django.utils.translation import gettext as _
from fontTools.ttLib import TTCollection, TTFont
from fpdf import FPDF, FontFace
from fpdf.enums import WrapMode, XPos, YPos

from qcare.core.errors import DomainError

logger = logging.getLogger(__name__)

FONT_ENV = "QCARE_PDF_FONT"

#: Chinese fonts at their usual places, tried in this order when neither QCARE_PDF_FONT nor
#: the font package gives one (Debian/Ubuntu, Fedora, Arch, then macOS and Windows).
SYSTEM_FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-sans-cjk-fonts/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/google-noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
    "/System/Library/Fonts/PingFang.ttc",
    "/System/Library/Fonts/STHeiti Light.ttc",
    "C:/Windows/Fonts/msyh.ttc",
    "C:/Windows/Fonts/simsun.ttc",
)

# Layout, in millimetres (A4 is 210 × 297) and points for font sizes.
MARGIN = 15
TOP = 12
BOTTOM = 16
FONT_SIZE = 10
SMALL_SIZE = 8.5
TITLE_SIZE = 17
LINE = 5.2  # height of one line of 10 pt text
PAD = 1.5  # inner padding of a cell
LABEL_FILL = (240, 240, 240)
HEADER_FILL = (228, 228, 228)
HEADING_FILL = (212, 212, 212)
SIGNATURE_ROW_HEIGHT = 9  # room for a wet-ink signature on a printed copy
FAMILY = "qcare-form"

# Han, kana, hangul, CJK punctuation and full-width forms: a line may break before or after
# each of these; other text breaks only at spaces (words and numbers stay whole).
_CJK_CHARS = "\u2e80-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_UNITS = re.compile(rf"\s|[{_CJK_CHARS}]|[^\s{_CJK_CHARS}]+")
# Chinese line-breaking rules: closing punctuation never starts a line, opening never ends one.
_NO_LINE_START = set("，。、；：？！）》」』】〕〉…—,.;:?!)]}%")
_NO_LINE_END = set("（《「『【〔〈([{")
# Family names of the Simplified Chinese face in a collection (Noto/Source Han "… SC", PingFang SC).
_SIMPLIFIED = re.compile(r"\bSC\b|\bGB|Simplified")
# A number no form reaches, standing in for the page count until fpdf2 knows it.
_PAGES_PLACEHOLDER = 987654321


# --- the document ---------------------------------------------------------------------------
@dataclass
class Field:
    """One label/value pair of a :class:`FieldGrid`."""

    label: str
    value: str


@dataclass
class FieldGrid:
    """Label/value pairs, ``columns`` pairs (1 to 3) per row, in bordered cells."""

    fields: list[Field]
    columns: int = 2


@dataclass
class Table:
    """A bordered table with a shaded header row that repeats on every page it spans.

    ``widths`` are relative column widths (``[1, 3, 1]``); ``None`` makes them equal.
    """

    headers: list[str]
    rows: list[list[str]]
    widths: list[float] | None = None


@dataclass
class Paragraph:
    """Free text in a bordered box across the page (it may continue on the next page)."""

    text: str


@dataclass
class Heading:
    """A shaded bar across the page that starts a part of the form."""

    text: str


@dataclass
class SignatureRow:
    """One signature line: role (评审部门, 批准), printed name, meaning, time, note."""

    role: str
    name: str
    meaning: str
    signed_at: str
    note: str = ""


@dataclass
class Signatures:
    """Signature lines; ``headers`` (five strings) adds a header row when given."""

    rows: list[SignatureRow]
    headers: list[str] | None = None


Section = Heading | Paragraph | FieldGrid | Table | Signatures


@dataclass
class Document:
    """A printable form. Every string is shown as given (the caller translates).

    ``number`` is printed top right as given (prefix it with a label such as "编号：" if
    wanted); ``footer`` sits bottom left on every page (e.g. "打印时间 2026-03-01 10:00"),
    ``page_label`` bottom right, formatted with ``page`` and ``pages``.
    """

    title: str
    number: str
    company: str
    sections: list[Section]
    footer: str = ""
    page_label: str = "%(page)d / %(pages)d"


# --- the font -------------------------------------------------------------------------------
class PdfFontMissing(DomainError):
    """No font with Chinese glyphs was found, so no PDF can be made."""

    status = 503
    code = "pdf_font_missing"


@dataclass(frozen=True)
class FontChoice:
    """The font file forms are set in: its path, the face of a collection, and where it came from."""

    path: str
    index: int
    name: str
    source: str  # "QCARE_PDF_FONT", "package", "system" or "fontconfig"


def resolve_font() -> FontChoice:
    """The font to embed, first found of: the file named by ``QCARE_PDF_FONT``; Noto Sans CJK
    from the ``noto-cjk-sans-otc`` package (a dependency, so always there on a normal install);
    the system fonts in :data:`SYSTEM_FONTS`; whatever fontconfig offers for Chinese.

    Only a file that opens as a font and has Chinese glyphs counts. Anything but the first two
    logs a warning, because the install is then incomplete. Raises :class:`PdfFontMissing` when
    nothing is found: a form without its Chinese text would be a wrong record, not a degraded one.
    The answer is kept for the life of the process (per value of the variable).
    """
    return _resolve_font(os.environ.get(FONT_ENV, "").strip())


@functools.lru_cache(maxsize=4)
def _resolve_font(configured: str) -> FontChoice:
    if configured:
        face = _chinese_face(configured)
        if face:
            return FontChoice(configured, *face, source=FONT_ENV)
        logger.warning(
            "%s=%s is missing or is not a font with Chinese glyphs; using the next font found",
            FONT_ENV,
            configured,
        )
    for source, path in _candidates():
        face = _chinese_face(path)
        if face:
            if source != "package":
                logger.warning(
                    "The font of the noto-cjk-sans-otc package is missing; PDF forms use %s (%s)",
                    path,
                    source,
                )
            return FontChoice(path, *face, source=source)
    logger.error("No font with Chinese glyphs found; set %s to a .ttf/.otf/.ttc file", FONT_ENV)
    raise PdfFontMissing(
        _(
            "No Chinese font is available for PDF output. Ask the administrator to reinstall "
            "QCare or to set QCARE_PDF_FONT to a font file."
        )
    )


def clear_font_cache():
    """Forget the font found by :func:`resolve_font` (tests; after installing a font)."""
    _resolve_font.cache_clear()


def _candidates():
    """``(source, path)`` pairs in the order of :func:`resolve_font`; fontconfig asked last, lazily."""
    try:
        import noto_cjk_sans_otc
    except ImportError:
        pass
    else:
        yield "package", str(noto_cjk_sans_otc.FONT_PATH)
    for path in SYSTEM_FONTS:
        if os.path.isfile(path):
            yield "system", path
    fc_match = shutil.which("fc-match")
    if fc_match:
        try:
            found = subprocess.run(
                [fc_match, "--format=%{file}", ":lang=zh-cn"], capture_output=True, text=True, timeout=10
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            found = ""
        if found:
            yield "fontconfig", found


def _chinese_face(path):
    """``(face index, family name)`` to set Chinese in — the Simplified Chinese face of a
    collection if it has one — or ``None`` when ``path`` is missing or has no Chinese glyphs."""
    try:
        with open(path, "rb") as file:
            collection = file.read(4) == b"ttcf"
            file.seek(0)
            faces = TTCollection(file, lazy=True).fonts if collection else [TTFont(file, lazy=True)]
            names = [face["name"].getDebugName(1) or "" for face in faces]
            index = next((i for i, name in enumerate(names) if _SIMPLIFIED.search(name)), 0)
            cmap = faces[index].getBestCmap() or {}
    except Exception as exc:  # whatever makes a file unreadable as a font, it is unusable
        logger.debug("%s is not a usable font: %s", path, exc)
        return None
    if not all(ord(char) in cmap for char in "中文表"):
        return None
    return index, names[index]


# --- rendering ------------------------------------------------------------------------------
def render_pdf(document: Document) -> bytes:
    """The PDF bytes of ``document`` (A4 portrait), its font embedded, its title in the metadata."""
    pdf = _FormPDF(document, resolve_font())
    pdf.add_page()
    for section in document.sections:
        _RENDERERS[type(section)](pdf, section)
    return bytes(pdf.output())


class _FormPDF(FPDF):
    """FPDF with the form's header (full on page 1, one line after) and footer."""

    def __init__(self, document: Document, font: FontChoice):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.document = document
        self.set_margins(MARGIN, TOP, MARGIN)
        self.set_auto_page_break(True, margin=BOTTOM)
        self.add_font(FAMILY, "", font.path, collection_font_number=font.index)
        self.set_font(FAMILY, size=FONT_SIZE)
        self.set_line_width(0.25)
        self.set_title(document.title)
        self.set_author(document.company)
        self.set_creator("QCare")
        self.alias_nb_pages()

    def header(self):
        doc = self.document
        if self.page_no() == 1:
            self.set_font_size(12)
            self.multi_cell(0, 6, doc.company, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(1)
            # The one font has no bold face: a thin outline makes the title read as bold.
            with self.local_context(font_size_pt=TITLE_SIZE, text_mode="FILL_STROKE", line_width=0.2):
                self.multi_cell(0, 9, doc.title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.set_font_size(FONT_SIZE)
            self.cell(0, 7, doc.number, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        else:
            self.set_font_size(SMALL_SIZE)
            y = self.y
            self.cell(self.epw * 0.65, 5, doc.title, align="L")
            self.set_xy(self.l_margin, y)
            self.cell(0, 5, doc.number, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(2)
        self.set_font_size(FONT_SIZE)

    def footer(self):
        self.set_y(-BOTTOM + 5)
        self.set_font_size(SMALL_SIZE)
        label = (self.document.page_label % {"page": self.page_no(), "pages": _PAGES_PLACEHOLDER}).replace(
            str(_PAGES_PLACEHOLDER), self.str_alias_nb_pages
        )
        self.cell(self.epw * 0.7, 5, self.document.footer, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, label, align="R")
        self.set_font_size(FONT_SIZE)


def _wrap(pdf: _FormPDF, text: str, width: float) -> list[str]:
    """``text`` cut into lines no wider than ``width`` (mm) in the current font.

    A line breaks at a space or next to a Chinese character, never inside a word or number
    (unless that alone is wider than the line), and follows the Chinese rules for
    punctuation. fpdf2 offers only "at spaces" (which keeps a run of Chinese whole) or "at any
    character" (which cuts numbers), hence this.
    """
    text = "" if text is None else str(text)
    lines = []
    for paragraph in text.replace("\r\n", "\n").replace("\t", " ").split("\n"):
        line, line_width, wrapped = "", 0.0, False
        for unit in _units(paragraph):
            unit_width = pdf.get_string_width(unit)
            if unit.isspace():
                if line or not wrapped:  # no space at the start of a continued line
                    line, line_width = line + unit, line_width + unit_width
                continue
            if line_width + unit_width <= width:
                line, line_width = line + unit, line_width + unit_width
                continue
            if line.strip():
                lines.append(line.rstrip())
            line, line_width, wrapped = "", 0.0, True
            while unit_width > width and len(unit) > 1:  # a word wider than the line: cut it
                cut = _longest_prefix(pdf, unit, width)
                lines.append(unit[:cut])
                unit = unit[cut:]
                unit_width = pdf.get_string_width(unit)
            line, line_width = unit, unit_width
        lines.append(line.rstrip())
    return lines


def _units(paragraph: str) -> list[str]:
    """The pieces a line may break between: a space, a Chinese character, a word or number,
    with closing punctuation glued to the piece before it and opening punctuation to the next."""
    units = []
    for token in _UNITS.findall(paragraph):
        glue = units and not token.isspace() and (token[0] in _NO_LINE_START or units[-1][-1] in _NO_LINE_END)
        if glue:
            units[-1] += token
        else:
            units.append(token)
    return units


def _longest_prefix(pdf: _FormPDF, word: str, width: float) -> int:
    total = 0.0
    for index, char in enumerate(word):
        total += pdf.get_string_width(char)
        if total > width:
            return max(index, 1)
    return len(word)


def _text_width(cell_width: float) -> float:
    # Inside a cell with padding on both sides; a hair less so fpdf2 never re-wraps a line.
    return cell_width - 2 * PAD - 0.05


def _box(pdf: _FormPDF, text: str, fill: bool = False):
    """``text`` in a bordered box the width of the page; it continues on the next page if long."""
    pdf.multi_cell(
        0,
        LINE,
        "\n".join(_wrap(pdf, text, _text_width(pdf.epw))),
        border=1,
        fill=fill,
        align="L",
        padding=PAD,
        wrapmode=WrapMode.CHAR,
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )


def _heading(pdf: _FormPDF, section: Heading):
    # Keep a heading with at least two lines of what follows it.
    if pdf.will_page_break(LINE * 3 + PAD * 4):
        pdf.add_page()
    # A local colour: fpdf2's tables take the current fill colour as their cells' default.
    with pdf.local_context(fill_color=HEADING_FILL):
        _box(pdf, section.text, fill=True)


def _paragraph(pdf: _FormPDF, section: Paragraph):
    _box(pdf, section.text)


@dataclass
class _Cell:
    text: str
    shaded: bool = False
    span: int = 1


def _field_grid(pdf: _FormPDF, section: FieldGrid):
    if not 1 <= section.columns <= 3:
        raise ValueError(f"FieldGrid.columns must be 1, 2 or 3, not {section.columns}")
    per_row = section.columns
    rows = []
    for start in range(0, len(section.fields), per_row):
        chunk = section.fields[start : start + per_row]
        row = []
        for position, item in enumerate(chunk):
            last = position == len(chunk) - 1
            # The last value of a short row stretches to the right edge of the grid.
            span = 1 + 2 * (per_row - len(chunk)) if last else 1
            row += [_Cell(item.label, shaded=True), _Cell(item.value, span=span)]
        rows.append(row)
    _draw_table(pdf, [1, 2.2 if per_row < 3 else 1.6] * per_row, rows)


def _table(pdf: _FormPDF, section: Table):
    count = len(section.headers)
    widths = section.widths or [1] * count
    if len(widths) != count:
        raise ValueError(f"Table has {count} headers but {len(widths)} widths")
    rows = []
    for values in section.rows:
        if len(values) > count:
            raise ValueError(f"Table row has {len(values)} cells for {count} headers")
        rows.append([_Cell(str(value)) for value in values] + [_Cell("")] * (count - len(values)))
    _draw_table(pdf, widths, rows, heading=[_Cell(text) for text in section.headers])


def _signatures(pdf: _FormPDF, section: Signatures):
    rows = [
        [
            _Cell(row.role, shaded=True),
            _Cell(row.name),
            _Cell(row.meaning),
            _Cell(row.signed_at),
            _Cell(row.note),
        ]
        for row in section.rows
    ]
    heading = [_Cell(text) for text in section.headers] if section.headers else None
    _draw_table(pdf, [1.3, 1.2, 1.4, 1.5, 2.2], rows, heading=heading, min_row_height=SIGNATURE_ROW_HEIGHT)


def _draw_table(pdf: _FormPDF, widths, rows, heading=None, min_row_height=None):
    """Bordered rows of :class:`_Cell`; ``heading`` is shaded and repeated on every page."""
    min_row_height = max(min_row_height or 0, LINE + 2 * PAD)  # an empty row is still a line high
    col_mm = [pdf.epw * width / sum(widths) for width in widths]
    heading_lines = _wrapped_row(pdf, heading, col_mm) if heading else []
    table_rows = [list(zip(heading, heading_lines, strict=True))] if heading else []
    heading_height = _row_height(heading_lines) if heading else 0
    table_rows += _fit_rows(pdf, rows, col_mm, heading_height, min_row_height)
    with pdf.table(
        width=pdf.epw,
        col_widths=widths,
        first_row_as_headings=heading is not None,
        headings_style=FontFace(fill_color=HEADER_FILL),
        text_align="LEFT",
        v_align="MIDDLE",
        line_height=LINE,
        padding=PAD,
        wrapmode=WrapMode.CHAR,
        min_row_height=min_row_height,
    ) as table:
        for cells in table_rows:
            row = table.row()
            for cell, lines in cells:
                style = FontFace(fill_color=LABEL_FILL) if cell.shaded else None
                row.cell("\n".join(lines), colspan=cell.span, style=style)


def _fit_rows(pdf: _FormPDF, rows, col_mm, heading_height, min_height):
    """``rows`` as ``[(cell, lines)]``, wrapped by :func:`_wrap`; a row taller than a page is
    cut into rows that fill the rest of this page and then whole pages (fpdf2 refuses a row
    taller than a page). Follows the table down the pages to know how much room is left."""
    # Room on a new page: below the running header (7 mm; 10 to be safe) and the repeated heading.
    page_top = pdf.t_margin + 10 + heading_height
    page_lines = max(int((pdf.page_break_trigger - page_top - 2 * PAD) // LINE), 1)
    y = pdf.y + heading_height
    result = []
    for row in rows:
        lines_per_cell = _wrapped_row(pdf, row, col_mm)
        height = max(_row_height(lines_per_cell), min_height)
        if y + height <= pdf.page_break_trigger:
            result.append(list(zip(row, lines_per_cell, strict=True)))
            y += height
            continue
        tallest = max(len(lines) for lines in lines_per_cell)
        room = int((pdf.page_break_trigger - y - 2 * PAD) // LINE)
        if tallest <= page_lines or room < 2:  # it fits on the next page, or too little is left here
            y, room = page_top, page_lines
        start = 0
        while start < tallest:
            chunk = [lines[start : start + room] for lines in lines_per_cell]
            result.append(list(zip(row, chunk, strict=True)))
            start += room
            if start < tallest:
                y, room = page_top, page_lines
        y += max(_row_height(chunk), min_height)
    return result


def _row_height(lines_per_cell):
    return max(len(lines) for lines in lines_per_cell) * LINE + 2 * PAD


def _wrapped_row(pdf: _FormPDF, row, col_mm):
    """The lines of each cell of ``row``, for the width of the columns it spans."""
    result, column = [], 0
    for cell in row:
        width = sum(col_mm[column : column + cell.span])
        column += cell.span
        result.append(_wrap(pdf, cell.text, _text_width(width)))
    return result


_RENDERERS = {
    Heading: _heading,
    Paragraph: _paragraph,
    FieldGrid: _field_grid,
    Table: _table,
    Signatures: _signatures,
}
