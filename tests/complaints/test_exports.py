"""Exports (R-CO-11 statistics in xlsx and PDF, the complaint list, R-CO-7 returns and settlements for
finance): files opened with openpyxl / pypdfium2, Chinese text present, scope and permissions kept,
each export in the audit trail."""

import io
import re
from decimal import Decimal

import pypdfium2 as pdfium
import pytest
from django.utils import translation
from openpyxl import load_workbook

from qcare.audit.models import AuditEntry
from qcare.complaints import exports
from qcare.complaints.models import ReturnNote, Settlement
from qcare.core.context import audit_context
from qcare.core.errors import NotPermitted
from tests.complaints.test_reports import data  # noqa: F401  (fixture: the hand-computed data set)

pytestmark = pytest.mark.django_db

PERIODS = {"period_from": "2026-01", "period_to": "2026-02"}


def sheets(content):
    workbook = load_workbook(io.BytesIO(content), read_only=True)
    return {ws.title: [list(row) for row in ws.iter_rows(values_only=True)] for ws in workbook.worksheets}


def pdf_text(content):
    document = pdfium.PdfDocument(content)
    return "\n".join(page.get_textpage().get_text_range() for page in document)


def exported(model):
    return AuditEntry.objects.filter(action="export", data__model=model)


def test_R_CO_11_statistics_xlsx(data, quality_engineer):  # noqa: F811
    with translation.override("zh-hans"):
        content = exports.export_statistics(quality_engineer, **PERIODS)
    summary, months, pareto, groups, departments = sheets(content).values()
    assert summary[1][1] == 5 and summary[4][1] == 75.0  # received, on-time closure rate
    assert months[1][:4] == ["2026-01", 3, 2, 2] and months[2][:4] == ["2026-02", 2, 2, 1]
    assert months[2][4] == 50.0 and months[2][5] == 15.0 and Decimal(str(months[2][7])) == Decimal("500")
    assert [row[1:] for row in pareto[1:3]] == [[2, 66.7, 66.7], [1, 33.3, 100.0]]
    assert departments[1][0] == "生产部/PMC" and departments[1][1:4] == [2, 1.7, 42.5]
    assert ["质量", 2] in groups  # the category in Chinese
    assert exported("complaints.statistics").filter(data__format="xlsx").count() == 1


def test_R_CO_11_statistics_pdf_in_chinese_and_english(data, quality_engineer):  # noqa: F811
    chinese = pdf_text(exports.export_statistics_pdf(quality_engineer, language="zh-hans", **PERIODS))
    flat = re.sub(r"\s+", "", chinese)
    assert "2026-01" in flat and "2026-02" in flat
    assert "生产部/PMC" in flat and "广州市第一人民医院" in flat
    assert "█" in chinese  # the bars of the charts
    english = pdf_text(exports.export_statistics_pdf(quality_engineer, language="en", **PERIODS))
    assert "Complaint statistics" in english and "Production / PMC" in english
    assert "广州康达医疗器械有限公司" in re.sub(r"\s+", "", english)  # customer names stay as recorded
    assert exported("complaints.statistics").filter(data__format="pdf").count() == 2


def test_R_CO_11_statistics_export_needs_report_and_export(data, sales_clerk, reviewer_finance):  # noqa: F811
    for user in (sales_clerk, reviewer_finance):
        with pytest.raises(NotPermitted):
            exports.export_statistics(user, **PERIODS)
        with pytest.raises(NotPermitted):
            exports.export_statistics_pdf(user, **PERIODS)
    assert not exported("complaints.statistics").exists()


def test_R_CO_2_complaint_list_xlsx_with_filters_and_scope(data, quality_engineer, sales_manager, hospital):  # noqa: F811
    content, count = exports.export_complaints(quality_engineer, {"customer": str(hospital.pk)})
    (rows,) = sheets(content).values()
    assert count == 4 and len(rows) == 5  # B, D, F, G + header
    numbers = {row[0] for row in rows[1:]}
    assert numbers == {data[k].number for k in ("b", "d", "f", "g")}
    assert any(cell == "广州市第一人民医院" for row in rows[1:] for cell in row)
    assert any(cell == "等待客户寄回样品" for row in rows[1:] for cell in row)
    # the sales manager may export their department's complaints only (not G)
    _content, count = exports.export_complaints(sales_manager, {"customer": str(hospital.pk)})
    assert count == 3
    entries = exported("complaints.complaint")
    assert sorted(e.data["count"] for e in entries) == [3, 4]
    assert all(e.data["filters"] == {"customer": str(hospital.pk)} for e in entries)


def test_R_CO_2_complaint_list_export_needs_the_permission(data, sales_clerk):  # noqa: F811
    with pytest.raises(NotPermitted):
        exports.export_complaints(sales_clerk, {})


@pytest.fixture
def finance_rows(data, quality_engineer):  # noqa: F811
    with audit_context(actor=quality_engineer, reason="test data"):
        note = ReturnNote.objects.create(
            number="TH-2602-001",
            complaint=data["b"],
            customer=data["b"].customer,
            product=data["b"].product,
            lot_number="L2609-01",
            approved_quantity=Decimal("3"),
            reason="血氧读数不稳定，退回检验",
            disposition="rework",
            created_by=quality_engineer,
        )
        allowance = Settlement.objects.create(
            complaint=data["a"],
            customer=data["a"].customer,
            kind="allowance",
            amount=Decimal("1000.00"),
            description="销货折让 1000 元",
            created_by=quality_engineer,
        )
        Settlement.objects.create(
            complaint=data["a"],
            customer=data["a"].customer,
            kind="compensation",
            amount=Decimal("50.00"),
            status="cancelled",
            created_by=quality_engineer,
        )
    return note, allowance


def test_R_CO_7_returns_and_settlements_xlsx_for_finance(finance_rows, reviewer_finance):
    content, count = exports.export_returns(reviewer_finance)
    rows = next(iter(sheets(content).values()))
    assert count == 1 and rows[1][0] == "TH-2602-001"
    assert "血氧读数不稳定，退回检验" in rows[1]
    content, count = exports.export_settlements(reviewer_finance)
    rows = next(iter(sheets(content).values()))
    assert count == 2
    assert [row[5] for row in rows[1:3]] == [50, 1000]  # newest first: the cancelled one, the allowance
    assert rows[2][1] == finance_rows[1].complaint.number and rows[2][6] == "CNY"
    total = rows[-1]
    assert total[5] == 1000 and total[6] == "CNY"  # the cancelled compensation is not counted
    assert exported("complaints.returnnote").count() == 1 and exported("complaints.settlement").count() == 1
    content, count = exports.export_settlements(reviewer_finance, status="cancelled")
    assert count == 1


def test_R_CO_7_finance_export_needs_the_permission(finance_rows, sales_clerk):
    with pytest.raises(NotPermitted):
        exports.export_returns(sales_clerk)
    with pytest.raises(NotPermitted):
        exports.export_settlements(sales_clerk)
