"""Printable PDF forms (``qcare.core.pdf``), first used for the contract review record (R-OR-7).

The PDFs are read back with PDFium (pypdfium2), the engine of Chromium's PDF viewer, so the
assertions are about what a person opening the file sees and can copy. (pypdf and
pdfminer.six do not read the encoding fpdf2 writes for CFF fonts such as Noto CJK; see
docs/decisions/0310-pdf-library-and-chinese-font.md.)
"""

import ctypes
import logging
import os
import re
import sys

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
import pytest

from qcare.core import pdf
from qcare.core.pdf import (
    Document,
    Field,
    FieldGrid,
    Heading,
    Paragraph,
    PdfFontMissing,
    SignatureRow,
    Signatures,
    Table,
    render_pdf,
)
from tests.conftest import skip_or_fail

#: The font Debian's fonts-noto-cjk installs (CI installs it).
SYSTEM_NOTO = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
#: 400 Chinese characters without a space or punctuation: wraps only because it is Chinese.
UNBROKEN = "".join("合同评审记录保存期限不少于产品寿命期" for _ in range(20))
HEADERS = ["序号", "产品名称", "Specification", "数量", "要求交期"]


@pytest.fixture(autouse=True)
def _fresh_font(monkeypatch):
    """Each test resolves the font itself, from the environment it sets up."""
    monkeypatch.delenv(pdf.FONT_ENV, raising=False)
    pdf.clear_font_cache()
    yield
    pdf.clear_font_cache()


def _review_record(rows=60, **overrides):
    fields = dict(
        title="合同评审表",
        number="编号：CR-2026-0042",
        company="宁波远华医疗器械有限公司",
        footer="打印时间 2026-03-02 14:35",
        page_label="第 %(page)d 页 / 共 %(pages)d 页",
        sections=[
            Heading("一、合同基本信息"),
            FieldGrid(
                [
                    Field("客户名称", "上海仁和医药有限公司"),
                    Field("Customer PO", "PO-SH-2026-0117"),
                    Field("订单类别", "特殊订单"),
                ],
                columns=2,
            ),
            Heading("二、产品明细"),
            Table(
                HEADERS,
                [
                    [f"ROW-{n:03d}", "一次性使用输液器 带针", "0.7×25TWLB", f"{1000 + n:,}", "2026-04-30"]
                    for n in range(1, rows + 1)
                ],
                widths=[1, 2.4, 1.6, 1, 1.3],
            ),
            Heading("三、顾客要求"),
            Paragraph(UNBROKEN),
            Paragraph("Customer requires English labels on every carton."),
            Signatures(
                [
                    SignatureRow("采购部", "赵敏", "评审", "2026-02-27 11:05", "有条件满足"),
                    SignatureRow("副总经理", "孙伟", "批准", "2026-03-01 16:30"),
                ],
                headers=["部门/角色", "签名", "签名含义", "签署时间", "备注"],
            ),
        ],
    )
    fields.update(overrides)
    return Document(**fields)


def _read(data):
    """``(page texts, metadata, embedded font names)`` as PDFium sees them."""
    document = pdfium.PdfDocument(data)
    try:
        texts = [page.get_textpage().get_text_range() for page in document]
        fonts = set()
        for page in document:
            for obj in page.get_objects(filter=(pdfium_raw.FPDF_PAGEOBJ_TEXT,)):
                font = pdfium_raw.FPDFTextObj_GetFont(obj.raw)
                size = pdfium_raw.FPDFFont_GetBaseFontName(font, None, 0)
                name = ctypes.create_string_buffer(size)
                pdfium_raw.FPDFFont_GetBaseFontName(font, name, size)
                fonts.add((name.value.decode(), bool(pdfium_raw.FPDFFont_GetIsEmbedded(font))))
        return texts, document.get_metadata_dict(), fonts
    finally:
        document.close()


def _compact(text):
    return re.sub(r"\s+", "", text)


def test_R_OR_7_review_record_prints_chinese_and_english_over_several_pages():
    data = render_pdf(_review_record())

    texts, metadata, _fonts = _read(data)
    pages = len(texts)
    assert data.startswith(b"%PDF-")
    assert pages >= 2
    assert metadata["Title"] == "合同评审表"
    first, everything = texts[0], "\n".join(texts)
    assert "宁波远华医疗器械有限公司" in first
    assert "合同评审表" in first
    assert "编号：CR-2026-0042" in first
    assert "上海仁和医药有限公司" in first and "PO-SH-2026-0117" in first
    # Every row is printed once, and the header row is repeated on every page the table spans.
    assert [f"ROW-{n:03d}" for n in range(1, 61)] == re.findall(r"ROW-\d{3}", everything)
    table_pages = [text for text in texts if "ROW-" in text]
    assert len(table_pages) >= 2
    for text in table_pages:
        assert all(header in text for header in HEADERS)
    # Long Chinese without spaces wraps inside its box and loses nothing.
    assert UNBROKEN in _compact(everything)
    assert "Customer requires English labels on every carton." in everything
    assert "赵敏" in everything and "有条件满足" in everything
    # The caller's page label, with the real page count.
    for number, text in enumerate(texts, start=1):
        assert f"第 {number} 页 / 共 {pages} 页" in text
        assert "打印时间 2026-03-02 14:35" in text


def test_english_page_label_and_a_single_page():
    document = _review_record(rows=3, page_label="Page %(page)d of %(pages)d", sections=[Paragraph("Short")])

    texts, _metadata, _fonts = _read(render_pdf(document))

    assert len(texts) == 1
    assert "Page 1 of 1" in texts[0]


def test_a_cell_taller_than_a_page_continues_on_the_next_page():
    # fpdf2 alone refuses a table row taller than a page; the renderer cuts it into rows.
    huge = UNBROKEN * 16  # 6,400 characters in one cell: about 130 lines
    document = _review_record(sections=[Table(["意见"], [["开始" + huge + "结束"]])])

    texts, _metadata, _fonts = _read(render_pdf(document))

    assert len(texts) >= 3
    assert texts[0].count("意见") == 1 and "意见" in texts[-1]  # header repeated
    joined = _compact("".join(texts))
    assert joined.count("开始") == 1 and joined.count("结束") == 1


def test_wrapping_keeps_numbers_whole_and_punctuation_off_line_starts():
    form = pdf._FormPDF(_review_record(), pdf.resolve_font())
    text = "采购部：PVC 粒料与针管需提前 15 天下单，请在 3 月 5 日前确认数量 1234567890 件。" * 3

    lines = pdf._wrap(form, text, 40)

    assert len(lines) > 3
    assert "".join(lines).replace(" ", "") == text.replace(" ", "")
    assert all(form.get_string_width(line) <= 40 for line in lines)
    assert any("1234567890" in line for line in lines)
    assert not any(line.startswith(("，", "。", "：")) for line in lines)


def test_the_font_is_embedded_from_the_font_package():
    choice = pdf.resolve_font()
    texts, _metadata, fonts = _read(render_pdf(_review_record(rows=3)))

    assert choice.source == "package"
    assert choice.name == "Noto Sans CJK SC"
    assert fonts and all(embedded for _name, embedded in fonts)
    assert all(name.endswith("NotoSansCJKSC") for name, _embedded in fonts)
    assert "合同评审表" in texts[0]


def test_qcare_pdf_font_selects_the_system_noto_font(monkeypatch):
    if not os.path.isfile(SYSTEM_NOTO):
        skip_or_fail(f"{SYSTEM_NOTO} is missing (apt-get install fonts-noto-cjk)")
    monkeypatch.setenv(pdf.FONT_ENV, SYSTEM_NOTO)

    choice = pdf.resolve_font()
    texts, _metadata, fonts = _read(render_pdf(_review_record(rows=3)))

    assert (choice.path, choice.name, choice.source) == (SYSTEM_NOTO, "Noto Sans CJK SC", pdf.FONT_ENV)
    assert fonts and all(embedded for _name, embedded in fonts)
    assert "上海仁和医药有限公司" in texts[0]


@pytest.mark.parametrize("bad", ["missing", "not-a-font"])
def test_an_unusable_qcare_pdf_font_logs_a_warning_and_still_renders(monkeypatch, caplog, tmp_path, bad):
    path = tmp_path / "font.ttf"
    if bad == "not-a-font":
        path.write_bytes(b"this is not a font")
    monkeypatch.setenv(pdf.FONT_ENV, str(path))

    with caplog.at_level(logging.WARNING, logger="qcare.core.pdf"):
        data = render_pdf(_review_record(rows=3))

    assert any(pdf.FONT_ENV in record.getMessage() for record in caplog.records)
    assert pdf.resolve_font().source == "package"
    texts, _metadata, fonts = _read(data)
    assert "合同评审表" in texts[0]
    assert all(embedded for _name, embedded in fonts)


def test_without_the_font_package_a_system_font_is_used_with_a_warning(monkeypatch, caplog):
    if not os.path.isfile(SYSTEM_NOTO):
        skip_or_fail(f"{SYSTEM_NOTO} is missing (apt-get install fonts-noto-cjk)")
    monkeypatch.setitem(sys.modules, "noto_cjk_sans_otc", None)  # import fails

    with caplog.at_level(logging.WARNING, logger="qcare.core.pdf"):
        data = render_pdf(_review_record(rows=3))

    choice = pdf.resolve_font()
    assert (choice.path, choice.source) == (SYSTEM_NOTO, "system")
    assert any("noto-cjk-sans-otc" in record.getMessage() for record in caplog.records)
    assert "合同评审表" in _read(data)[0][0]


def test_no_chinese_font_anywhere_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "noto_cjk_sans_otc", None)
    monkeypatch.setattr(pdf, "SYSTEM_FONTS", ())
    monkeypatch.setattr(pdf.shutil, "which", lambda name: None)

    with pytest.raises(PdfFontMissing) as raised:
        render_pdf(_review_record(rows=3))

    assert raised.value.status == 503
    assert "QCARE_PDF_FONT" in str(raised.value)


def test_layout_mistakes_are_programming_errors():
    with pytest.raises(ValueError, match="columns"):
        render_pdf(_review_record(sections=[FieldGrid([Field("a", "b")], columns=4)]))
    with pytest.raises(ValueError, match="widths"):
        render_pdf(_review_record(sections=[Table(["a", "b"], [], widths=[1])]))
    with pytest.raises(ValueError, match="cells"):
        render_pdf(_review_record(sections=[Table(["a"], [["1", "2"]])]))
