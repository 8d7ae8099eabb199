"""R-IF-4 for products: every bad row reported (row, column, error), all-or-nothing by default."""

import io
import json

import pytest
from django.test import Client
from openpyxl import Workbook, load_workbook

from qcare.audit.models import AuditEntry
from qcare.catalog import importexport
from qcare.catalog.models import Product
from qcare.core.errors import NotPermitted
from tests.api.conftest import token_for

pytestmark = pytest.mark.django_db
HEADERS = importexport.template_headers()
GOOD = [
    "JX-1401",
    "输液泵",
    "IP-300",
    "14",
    "是",
    "是",
    "国械注准20193140201",
    "康禾",
    "粤许20160088",
    "12",
    "台",
    "",
]


def xlsx(rows):
    workbook = Workbook()
    for row in [HEADERS, *rows]:
        workbook.active.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def row(**changes):
    values = dict(zip(importexport.COLUMNS, GOOD, strict=True))
    values = {c.key: v for c, v in values.items()} | changes
    return [values[c.key] for c in importexport.COLUMNS]


BAD_ROWS = [
    row(code="JX-1401"),  # row 2: valid
    row(code="JX-1401"),  # row 3: duplicate in the file
    row(code="JX-0001"),  # row 4: duplicate of a product in the database
    row(code="JX-1402", category="99"),  # row 5: unknown category
    row(code="JX-1403", name=""),  # row 6: missing name
    row(code="JX-1404", registration_number=""),  # row 7: regulated without registration
    row(code="PJ-0001", is_regulated="否", registration_number=""),  # row 8: valid accessory
]


def _errors(report):
    return {(e.row, e.column) for e in report.errors}


def test_R_IF_4_every_bad_row_reported_and_nothing_written(reviewer_rnd, make_product):
    make_product(code="JX-0001")
    report = importexport.import_file(reviewer_rnd, xlsx(BAD_ROWS), "p.xlsx", mode="commit")
    assert _errors(report) == {
        (3, "产品编码"),
        (4, "产品编码"),
        (5, "类别代码"),
        (6, "产品名称"),
        (7, "注册证/备案编号"),
    }
    assert (report.valid_rows, report.invalid_rows) == (2, 5)
    assert not report.committed and Product.objects.count() == 1


def test_R_IF_4_commit_valid_imports_only_valid_rows(reviewer_rnd, make_product):
    make_product(code="JX-0001")
    report = importexport.import_file(reviewer_rnd, xlsx(BAD_ROWS), "p.xlsx", mode="commit_valid")
    assert report.committed and len(report.created) == 2
    assert set(Product.objects.values_list("code", flat=True)) == {"JX-0001", "JX-1401", "PJ-0001"}
    assert Product.objects.get(code="PJ-0001").is_regulated is False
    event = AuditEntry.objects.order_by("-seq").first()
    assert event.data["created"] == 2 and event.data["model"] == "catalog.product"


def test_R_IF_4_csv_in_gbk_with_template_headers(reviewer_rnd, categories):
    text = ",".join(HEADERS) + "\r\n" + ",".join(row()) + "\r\n"
    report = importexport.import_file(reviewer_rnd, text.encode("gb18030"), "p.csv", mode="commit")
    assert report.committed and Product.objects.get().registration_number == "国械注准20193140201"


def test_R_IF_4_full_width_headers_are_accepted(reviewer_rnd, categories):
    headers = [h.replace("(", "（").replace(")", "）") for h in HEADERS]
    report = importexport.validate_rows([headers, row(is_regulated="否", registration_number="")])
    assert not report.errors and report.groups[0]["is_regulated"] is False


def test_R_IF_4_missing_required_column_reported(reviewer_rnd, categories):
    report = importexport.validate_rows([["产品编码*", "产品名称*"], ["A", "B"]])
    assert (1, "类别代码") in _errors(report)


def test_R_IF_4_template_has_chinese_headers(categories):
    sheet = load_workbook(io.BytesIO(importexport.build_template_xlsx())).active
    assert [c.value for c in sheet[1]][:4] == ["产品编码*", "产品名称*", "型号规格", "类别代码*"]
    assert importexport.build_template_csv().startswith("\ufeff产品编码*".encode())


def test_P7_import_needs_catalog_change(technician, categories):
    with pytest.raises(NotPermitted):
        importexport.import_file(technician, xlsx([row()]), "p.xlsx", mode="validate")


def test_R_IF_4_api_modes(reviewer_rnd, make_product):
    make_product(code="JX-0001")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(reviewer_rnd)}", HTTP_ACCEPT_LANGUAGE="en")

    def upload(mode):
        data = {"file": io.BytesIO(xlsx(BAD_ROWS)), "mode": mode}
        data["file"].name = "p.xlsx"
        return api.post("/api/products/import/", data)

    checked = upload("validate")
    assert checked.status_code == 200 and len(json.loads(checked.content)["errors"]) == 5
    refused = upload("commit")
    assert refused.status_code == 400 and json.loads(refused.content)["code"] == "invalid_rows"
    assert Product.objects.count() == 1
    done = upload("commit_valid")
    assert done.status_code == 201 and len(json.loads(done.content)["created"]) == 2
