"""Import of customers from xlsx / csv (R-IF-4): template, row-level report, all-or-nothing,
"import the valid rows", grouping of contacts, encodings, screens, API and permissions."""

import csv
import io
import sys

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from openpyxl import Workbook, load_workbook

from qcare.accounts.models import Role, RolePermission
from qcare.accounts.permissions import clear_cache
from qcare.accounts.tokens import create_token
from qcare.audit.models import AuditEntry
from qcare.core.errors import NotPermitted, ValidationFailed
from qcare.customers import importexport
from qcare.customers.choices import LicenceKind
from qcare.customers.models import Contact, Customer, Licence
from tests.factories import UserFactory

ZH = [c.header("zh") for c in importexport.COLUMNS]
EN = [c.header("en") for c in importexport.COLUMNS]


def grant(user, *perms, scope="all"):
    """Give ``user`` the permissions (independent of the default grants being edited in parallel)."""
    role, _ = Role.objects.get_or_create(code=f"custio_{user.username}", defaults={"name": "custio test"})
    for perm in perms:
        RolePermission.objects.update_or_create(role=role, permission=perm, defaults={"scope": scope})
    user.roles.add(role)
    clear_cache(user)
    return user


def row(**values):
    """A data row in template column order from column keys."""
    return [values.get(c.key, "") for c in importexport.COLUMNS]


def xlsx(rows, headers=ZH):
    wb = Workbook()
    sheet = wb.active
    sheet.append(headers)
    for r in rows:
        sheet.append(r)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def csv_bytes(rows, headers=ZH, encoding="utf-8-sig"):
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(headers)
    writer.writerows(rows)
    return text.getvalue().encode(encoding)


@pytest.fixture(autouse=True)
def _chinese():
    """Service-level calls run in the company language (a previous request may have left another)."""
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def importer(sales_manager):
    return grant(sales_manager, "customers.import", "customers.view", "customers.view_personal_data")


def good(username, **over):
    values = {
        "name": "杭州康达医疗器械有限公司",
        "short_name": "康达",
        "customer_type": "经销商",
        "origin": "国内",
        "region": "浙江省杭州市",
        "address": "杭州市滨江区江南大道1号",
        "tax_id": "91330100MA2AAAAA1X",
        "relationship": "意向客户",
        "value_class": "important",
        "owner": username,
        "preferred_language": "简体中文",
        "preferred_channel": "email",
        "contact_name": "陈红",
        "contact_title": "采购经理",
        "contact_phone": "0571-88886666",
        "contact_mobile": "13812345678",
        "contact_email": "chenhong@kangda.example.com",
        "licence_kind": "医疗器械经营许可证",
        "licence_number": "浙杭食药监械经营许20230001号",
        "licence_valid_until": "2028-06-30",
    }
    values.update(over)
    return row(**values)


def pairs(report):
    return {(e.row, e.column) for e in report.errors}


def test_R_IF_4_template_headers_chinese(client, importer):
    client.force_login(importer)
    response = client.get(reverse("customers:import_template", args=["xlsx"]))
    assert response.status_code == 200
    wb = load_workbook(io.BytesIO(response.content))
    headers = [c.value for c in wb.worksheets[0][1]]
    assert headers[:3] == ["客户名称*", "简称", "客户类型*"]
    assert "负责人用户名*" in headers and "联系人邮箱" in headers and "许可证类型" in headers
    instructions = "\n".join(str(c.value) for r in wb.worksheets[1].iter_rows() for c in r if c.value)
    assert "distributor = 经销商" in instructions and "potential = 潜在客户" in instructions
    assert "class2_filing" in instructions
    # English UI → English headers; CSV template is UTF-8 with BOM
    client.cookies["django_language"] = "en"
    wb = load_workbook(io.BytesIO(client.get(reverse("customers:import_template", args=["xlsx"])).content))
    assert [c.value for c in wb.worksheets[0][1]][:2] == ["Customer name*", "Short name"]
    body = client.get(reverse("customers:import_template", args=["csv"])).content
    assert body.startswith(b"\xef\xbb\xbf") and b"Customer name*" in body
    assert client.get("/customers/import/template.exe").status_code == 404


def test_R_IF_4_bad_rows_report_every_error_and_write_nothing(importer, make_customer):
    existing = make_customer(importer, tax_id="91110000DUPLICATE1")
    u = importer.username
    rows = [
        good(u, name="好客户", tax_id="T-OK-1"),  # row 2: valid
        good(u, name="重复税号甲", tax_id="91110000DUPLICATE1"),  # row 3: tax id in the database
        good(u, name="文件内甲", tax_id="T-INFILE"),  # row 4: first use of T-INFILE
        good(u, name="文件内乙", tax_id="T-INFILE"),  # row 5: same tax id, another customer
        good(u, name="", tax_id="T-NONAME"),  # row 6: missing name
        good(u, name="日期错", tax_id="T-DATE", licence_valid_until="2026-13-45"),  # row 7
        good(u, name="类型错", tax_id="T-KIND", licence_kind="营业执照"),  # row 8: wrong licence kind
        good(
            u, name="联系错", tax_id="T-CONTACT", contact_email="not-an-email", contact_phone="abc"
        ),  # row 9
        good(u, name="无此人", tax_id="T-OWNER", owner="nobody_here", customer_type="不存在"),  # row 10
    ]
    customers, contacts, licences = Customer.objects.count(), Contact.objects.count(), Licence.objects.count()
    audit = AuditEntry.objects.count()

    report = importexport.import_file(importer, xlsx(rows), "bad.xlsx", mode="commit")

    assert not report.committed and report.created == []
    assert pairs(report) == {
        (3, "税号"),
        (5, "税号"),
        (6, "客户名称*"),
        (7, "有效期至"),
        (8, "许可证类型"),
        (9, "联系人电话"),
        (9, "联系人邮箱"),
        (10, "客户类型*"),
        (10, "负责人用户名*"),
    }
    messages = {(e.row, e.column): e.message for e in report.errors}
    assert existing.code in messages[(3, "税号")]
    assert "2026-13-45" in messages[(7, "有效期至")]
    assert report.total_rows == 9 and report.valid_rows == 2 and report.invalid_rows == 7
    assert (Customer.objects.count(), Contact.objects.count(), Licence.objects.count()) == (
        customers,
        contacts,
        licences,
    )
    assert AuditEntry.objects.count() == audit  # no event either: nothing happened


def test_R_IF_4_import_valid_rows_on_request(importer):
    u = importer.username
    rows = [
        good(u),  # row 2: customer A, contact 陈红 (primary) + licence
        good(
            u,
            contact_name="李强",
            contact_mobile="",
            contact_email="liqiang@kangda.example.com",
            licence_kind="",
            licence_number="",
            licence_valid_until="",
            short_name="",
            region="",
        ),  # row 3: A again
        good(
            u,
            name="北京协和医院",
            customer_type="hospital",
            tax_id="",
            address="",
            licence_kind="",
            licence_number="",
            licence_valid_until="",
            contact_name="王医生",
            contact_mobile="+49 170 1234567",
        ),
        good(u, name="坏行", tax_id="T-BAD", contact_email="bad@"),  # row 5: bad
    ]
    before = AuditEntry.objects.count()
    report = importexport.import_file(importer, xlsx(rows), "mixed.xlsx", mode="commit_valid")

    assert report.committed and len(report.created) == 2
    assert pairs(report) == {(5, "联系人邮箱")}
    assert (report.valid_rows, report.invalid_rows) == (3, 1)
    a = Customer.objects.get(tax_id="91330100MA2AAAAA1X")
    assert a.code.startswith("C") and len(a.code) == 6
    assert a.customer_type.code == "distributor" and a.relationship.code == "intention"
    assert a.value_class.code == "important" and a.owner == importer
    assert a.department_id == importer.department_id  # scope follows the owner (P7)
    assert [(c.name, c.is_primary) for c in a.contacts.order_by("-is_primary", "name")] == [
        ("陈红", True),
        ("李强", False),
    ]
    licence = a.licences.get()
    assert licence.kind == LicenceKind.DEVICE_BUSINESS and licence.valid_until.isoformat() == "2028-06-30"
    assert "康达" in a.search_text and "陈红" in a.search_text
    b = Customer.objects.get(name="北京协和医院")
    assert b.tax_id is None and not b.is_foreign and b.contacts.get().mobile == "+49 170 1234567"
    assert not Customer.objects.filter(name="坏行").exists()
    # audit: one create entry per row written, and the import as a business event
    entries = AuditEntry.objects.filter(seq__gt=before)
    assert entries.filter(action="create", object_pk=str(a.pk), content_type__model="customer").count() == 1
    assert entries.filter(action="create", content_type__model="contact").count() == 3
    assert entries.filter(action="create", content_type__model="licence").count() == 1
    event = entries.get(action="other", data__event="import")
    assert event.data["customers"] == 2 and event.data["skipped_rows"] == 1 and event.actor_id == importer.pk


def test_R_IF_4_commit_all_when_every_row_is_valid(importer):
    rows = [good(importer.username, name=f"客户{i}", tax_id=f"T-{i}") for i in range(5)]
    report = importexport.import_file(importer, xlsx(rows), "ok.xlsx", mode="commit")
    codes = list(
        Customer.objects.filter(pk__in=report.created).order_by("code").values_list("code", flat=True)
    )
    assert report.committed and len(codes) == 5
    assert int(codes[-1][1:]) - int(codes[0][1:]) == 4  # a contiguous block of numbers (P2)


def test_R_IF_4_rows_of_one_customer_must_agree(importer):
    u = importer.username
    rows = [good(u), good(u, contact_name="李强", customer_type="agent")]
    report = importexport.validate_rows(importexport.read_rows(xlsx(rows), "x.xlsx"))
    assert pairs(report) == {(3, "客户类型*")}
    assert "2" in report.errors[0].message


def test_R_IF_4_foreign_and_required_by_type(importer):
    u = importer.username
    rows = [
        good(u, name="Acme GmbH", tax_id="DE123", origin="国外", country=""),  # foreign without country
        good(u, name="无地址经销商", tax_id="T-ADDR", address=""),  # distributor needs an address
        good(
            u,
            name="Foreign OK",
            tax_id="DE124",
            origin="foreign",
            country="de",
            customer_type="oem",
            contact_mobile="+49 170 7654321",
        ),
    ]
    report = importexport.validate_rows(importexport.read_rows(xlsx(rows), "x.xlsx"))
    assert pairs(report) == {(2, "国家"), (3, "地址")}
    assert report.groups[0].values["country"] == "DE" and report.groups[0].values["is_foreign"]


def test_R_IF_4_csv_gbk_and_bom_english_headers_unknown_column(importer):
    u = importer.username
    for encoding in ("gbk", "utf-8-sig", "utf-8"):
        data = csv_bytes([good(u)], encoding=encoding)
        report = importexport.validate_file(importer, data, "customers.csv")
        assert not report.errors, (encoding, report.errors)
        assert report.groups[0].values["name"] == "杭州康达医疗器械有限公司"
    report = importexport.validate_file(
        importer, csv_bytes([good(u) + ["x"]], headers=EN + ["Colour"]), "e.csv"
    )
    assert not report.errors and report.valid_rows == 1
    assert any("Colour" in w for w in report.warnings)
    with pytest.raises(Exception, match="neither UTF-8 nor GBK|不是"):
        importexport.validate_file(importer, b"\xff\xfe\x00\xd8\x00\xdc" * 3, "x.csv")


def test_R_IF_4_missing_required_column_and_wrong_file_type(importer):
    report = importexport.validate_file(importer, xlsx([["x"]], headers=["简称"]), "x.xlsx")
    assert {e.column for e in report.errors} == {"客户名称*", "客户类型*", "负责人用户名*"}
    with pytest.raises(Exception):  # noqa: B017 - ValidationFailed with a field error
        importexport.validate_file(importer, b"not a workbook", "x.xlsx")
    with pytest.raises(Exception):  # noqa: B017
        importexport.validate_file(importer, b"a,b", "x.txt")


def test_R_IF_4_import_needs_permission(sales_clerk, client):
    with pytest.raises(NotPermitted):
        importexport.import_file(sales_clerk, xlsx([]), "x.xlsx", mode="validate")
    client.force_login(sales_clerk)
    assert client.get(reverse("customers:import")).status_code == 403
    assert client.get(reverse("customers:import_template", args=["xlsx"])).status_code == 403
    assert client.post(reverse("customers:import_commit"), {"token": "0" * 32}).status_code == 403


def test_R_IF_4_screens_upload_report_then_commit(client, importer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    client.force_login(importer)
    page = client.get(reverse("customers:import")).content.decode()
    assert reverse("customers:import_template", args=["xlsx"]) in page and 'type="file"' in page
    broken = io.BytesIO(b"not a workbook")
    broken.name = "broken.xlsx"
    response = client.post(reverse("customers:import"), {"file": broken})
    assert response.status_code == 200 and response.context["form"].errors["file"]
    assert "token" not in response.context and not list((tmp_path / "imports").iterdir())
    u = importer.username
    data = xlsx([good(u), good(u, name="坏行", tax_id="T-BAD", contact_email="bad@")])
    upload = io.BytesIO(data)
    upload.name = "mixed.xlsx"
    response = client.post(reverse("customers:import"), {"file": upload})
    assert response.status_code == 200
    html = response.content.decode()
    assert "联系人邮箱" in html and "bad@" in html and 'name="token"' in html
    assert 'value="commit_valid"' in html and 'value="commit"' not in html
    token = response.context["token"]
    assert not Customer.objects.filter(name="坏行").exists()
    # all-or-nothing is refused, the report is shown again and the file is kept
    refused = client.post(reverse("customers:import_commit"), {"token": token, "mode": "commit"})
    assert refused.status_code == 400 and Customer.objects.count() == 0
    # another session cannot use the token; a path-like token is rejected
    other = Client()
    other.force_login(importer)
    other.post(reverse("customers:import_commit"), {"token": token, "mode": "commit_valid"})
    client.post(reverse("customers:import_commit"), {"token": "../../etc/passwd", "mode": "commit_valid"})
    assert Customer.objects.count() == 0
    done = client.post(reverse("customers:import_commit"), {"token": token, "mode": "commit_valid"})
    assert done.status_code == 302
    assert list(Customer.objects.values_list("name", flat=True)) == ["杭州康达医疗器械有限公司"]
    again = client.post(reverse("customers:import_commit"), {"token": token, "mode": "commit_valid"})
    assert again.status_code == 302 and Customer.objects.count() == 1  # the file is gone
    assert not list((tmp_path / "imports").iterdir())


def _api(user):
    _token, raw = create_token(user, "custio-test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw}", HTTP_ACCEPT_LANGUAGE="en")


def _post(client, data, mode, name="c.xlsx"):
    upload = io.BytesIO(data)
    upload.name = name
    return client.post("/api/customers/import/", {"file": upload, "mode": mode})


def test_R_IF_4_api_modes(importer, sales_clerk):
    api = _api(importer)
    u = importer.username
    bad = xlsx([good(u), good(u, name="", tax_id="T-X")])
    response = _post(api, bad, "validate")
    assert response.status_code == 200
    body = response.json()
    assert (body["valid_rows"], body["invalid_rows"], body["created"]) == (1, 1, [])
    assert body["errors"] == [
        {"row": 3, "column": "Customer name*", "message": "The customer name is required."}
    ]
    response = _post(api, bad, "commit")
    assert response.status_code == 400 and response.json()["code"] == "invalid_rows"
    assert Customer.objects.count() == 0
    response = _post(api, bad, "commit_valid")
    assert response.status_code == 201
    assert response.json()["created"] == list(Customer.objects.values_list("pk", flat=True))
    response = _post(api, xlsx([good(u, name="新客户", tax_id="T-NEW")]), "commit")
    assert response.status_code == 201 and len(response.json()["created"]) == 1
    assert _post(api, bad, "delete_all").status_code == 400
    assert _post(_api(sales_clerk), bad, "validate").status_code == 403


def test_R_IF_4_owner_must_be_within_import_scope(sales_clerk, sales_clerk_2, sales_clerk_other_dept):
    manager = grant(UserFactory(department=sales_clerk.department), "customers.import", scope="department")
    rows = [
        good(sales_clerk.username, name="本部门", tax_id="T-1"),
        good(sales_clerk_other_dept.username, name="外部门", tax_id="T-2"),
    ]
    report = importexport.validate_file(manager, xlsx(rows), "x.xlsx")
    assert pairs(report) == {(3, "负责人用户名*")}
    own = grant(UserFactory(department=sales_clerk.department), "customers.import", scope="own")
    rows = [
        good(own.username, name="自己", tax_id="T-3"),
        good(sales_clerk_2.username, name="同事", tax_id="T-4"),
    ]
    assert pairs(importexport.validate_file(own, xlsx(rows), "x.xlsx")) == {(3, "负责人用户名*")}


def test_R_IF_4_tax_id_taken_between_check_and_commit(importer, make_customer, monkeypatch):
    data = xlsx([good(importer.username, tax_id="T-RACE")])
    report = importexport.validate_file(importer, data, "x.xlsx")
    make_customer(importer, tax_id="T-RACE")  # another user, meanwhile
    monkeypatch.setattr(importexport, "validate_file", lambda *args: report)
    with pytest.raises(ValidationFailed):
        importexport.import_file(importer, data, "x.xlsx", mode="commit")
    assert Customer.objects.count() == 1 and not Contact.objects.exists()


def test_R_IF_4_xlsx_readers_agree_incl_date_and_number_cells(importer, monkeypatch):
    """calamine (fast path) and openpyxl (fallback) give the same validated values."""
    import datetime

    data = xlsx(
        [good(importer.username, licence_valid_until=datetime.date(2028, 6, 30), contact_mobile=13812345678)]
    )
    fast = importexport.validate_file(importer, data, "x.xlsx")
    monkeypatch.setitem(sys.modules, "python_calamine", None)  # import fails → openpyxl
    slow = importexport.validate_file(importer, data, "x.xlsx")
    assert not fast.errors and not slow.errors
    for report in (fast, slow):
        values = report.groups[0].values
        assert values["licence"]["valid_until"] == datetime.date(2028, 6, 30)
        assert values["contact"]["mobile"] == "13812345678"
