"""Export of the filtered customer list to xlsx (R-IF-4), logged and masked (R-CU-6)."""

import io

import pytest
from django.urls import reverse
from django.utils import translation
from openpyxl import load_workbook

from qcare.accounts.tokens import create_token
from qcare.audit.models import AuditEntry
from qcare.core.errors import NotPermitted, ValidationFailed
from qcare.customers import importexport
from tests.customers.test_import import grant
from tests.factories import UserFactory

MOBILE = "13812345678"
PERSONAL_MAIL = "chen.private@example.com"


@pytest.fixture(autouse=True)
def _chinese():
    with translation.override("zh-hans"):
        yield


@pytest.fixture
def customers(sales_clerk, sales_clerk_other_dept, make_customer):
    contact = {"name": "陈红", "mobile": MOBILE, "personal_email": PERSONAL_MAIL, "phone": "0571-88886666"}
    return {
        "distributor": make_customer(
            sales_clerk,
            name="杭州康达医疗器械有限公司",
            type_code="distributor",
            region="浙江",
            contacts=[contact],
        ),
        "hospital": make_customer(
            sales_clerk, name="杭州市第一人民医院", type_code="hospital", region="浙江"
        ),
        "other_dept": make_customer(sales_clerk_other_dept, name="外部门客户", type_code="distributor"),
    }


def rows_of(content):
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    header = rows[0]
    return [dict(zip(header, r, strict=True)) for r in rows[1:]]


def test_R_CU_6_export_logged_and_masked(client, customers, sales_clerk):
    # Users with only the grants under test (the default grants are not what is tested here).
    plain = grant(UserFactory(department=sales_clerk.department), "customers.export", scope="department")
    trusted = grant(UserFactory(department=sales_clerk.department), "customers.export", scope="department")
    grant(trusted, "customers.view_personal_data", scope="department")
    before = AuditEntry.objects.count()

    client.force_login(plain)
    response = client.get(reverse("customers:export"), {"type": customers["distributor"].customer_type_id})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    rows = rows_of(response.content)
    assert [r["客户编号"] for r in rows] == [customers["distributor"].code]  # filtered and within scope
    assert rows[0]["联系人姓名"] == "陈红" and rows[0]["联系人电话"] == "0571-88886666"
    assert rows[0]["联系人手机"] != MOBILE and MOBILE[-4:] in rows[0]["联系人手机"]  # masked
    assert rows[0]["联系人个人邮箱"] != PERSONAL_MAIL and rows[0]["许可证状态"]
    event = AuditEntry.objects.get(seq__gt=before, action="export")
    assert event.actor_id == plain.pk
    assert event.data["count"] == 1 and event.data["personal_data"] is False
    assert event.data["filters"] == {"type": str(customers["distributor"].customer_type_id)}

    client.force_login(trusted)  # may see personal data
    rows = rows_of(client.get(reverse("customers:export"), {"region": "浙江"}).content)
    assert {r["客户名称"] for r in rows} == {"杭州康达医疗器械有限公司", "杭州市第一人民医院"}
    contact_row = next(r for r in rows if r["联系人姓名"])
    assert contact_row["联系人手机"] == MOBILE and contact_row["联系人个人邮箱"] == PERSONAL_MAIL
    assert AuditEntry.objects.filter(seq__gt=before, action="export").count() == 2


def test_R_CU_6_export_needs_permission(client, customers, technician):
    client.force_login(technician)
    assert client.get(reverse("customers:export")).status_code == 403
    with pytest.raises(NotPermitted):
        importexport.export_customers(technician, {})


def test_R_IF_4_export_refuses_bad_filters_and_too_many_rows(client, customers, sales_clerk, monkeypatch):
    grant(sales_clerk, "customers.export", scope="own")
    with pytest.raises(ValidationFailed):
        importexport.export_customers(sales_clerk, {"type": "no-such-type"})
    monkeypatch.setattr(importexport, "MAX_EXPORT_ROWS", 1)
    client.force_login(sales_clerk)
    response = client.get(reverse("customers:export"))
    assert response.status_code == 400 and 'data-testid="export-refused"' in response.content.decode()
    assert not AuditEntry.objects.filter(action="export").exists()  # nothing left the system


def test_R_IF_4_api_export_same_filters_as_list(client, customers, administrator):
    _token, raw = create_token(administrator, "custio-export")
    headers = {"HTTP_AUTHORIZATION": f"Bearer {raw}", "HTTP_ACCEPT_LANGUAGE": "en"}
    response = client.get("/api/customers/export/", {"type": "distributor", "is_foreign": "false"}, **headers)
    assert response.status_code == 200
    rows = rows_of(response.content)
    assert {r["Customer code"] for r in rows} == {customers["distributor"].code, customers["other_dept"].code}
    assert AuditEntry.objects.filter(action="export", actor_id=administrator.pk).count() == 1
    assert client.get("/api/customers/export/", {"type": "nope"}, **headers).status_code == 400


def test_R_IF_4_export_reimports_as_template_columns(customers, sales_manager):
    """An export is a valid import file (its extra columns are ignored with a warning)."""
    grant(sales_manager, "customers.export", "customers.import", "customers.view_personal_data")
    content, count = importexport.export_customers(sales_manager, {})
    assert count == 3
    report = importexport.validate_rows(importexport.read_rows(content, "export.xlsx"))
    assert report.total_rows == 3 and any("客户编号" in w for w in report.warnings)
    # the tax ids are empty, so the only errors are the distributors' missing address
    assert {e.column for e in report.errors} <= {"地址"}
