"""The administration screens for users, departments and roles (not Django admin)."""

import pytest

from qcare.accounts.models import Department, Role, User
from qcare.audit.models import AuditEntry
from qcare.notifications.models import Notification

pytestmark = pytest.mark.django_db


def test_sales_clerk_cannot_open_user_admin(client, sales_clerk, sales_clerk_2):
    client.force_login(sales_clerk)
    assert client.get("/accounts/users/").status_code == 403
    assert client.get("/accounts/users/new/").status_code == 403
    assert client.post("/accounts/users/new/", {"username": "x"}).status_code == 403
    assert client.get(f"/accounts/users/{sales_clerk_2.pk}/").status_code == 404
    assert client.get("/accounts/roles/").status_code == 403
    assert client.get("/accounts/departments/").status_code == 403


def test_administrator_lists_and_filters_users(client, administrator, sales_clerk, technician, org):
    client.force_login(administrator)
    html = client.get("/accounts/users/", {"department": org["service"].pk}).content.decode()
    assert technician.username in html and sales_clerk.username not in html
    html = client.get("/accounts/users/", {"q": "张"}).content.decode()
    assert sales_clerk.username in html and technician.username not in html


def test_administrator_can_create_user(client, administrator, org):
    client.force_login(administrator)
    role = Role.objects.get(code="technician")
    response = client.post(
        "/accounts/users/new/",
        {
            "full_name": "钱进",
            "username": "qianjin",
            "email": "qianjin@example.com",
            "department": org["service"].pk,
            "roles": [role.pk],
            "language": "zh-hans",
            "is_active": "on",
            "password": "Initial-pass-2026",
            "reason": "新员工入职",
        },
    )
    assert response.status_code == 302
    user = User.objects.get(username="qianjin")
    assert user.full_name == "钱进" and user.department == org["service"]
    assert list(user.roles.all()) == [role]
    assert user.must_change_password and user.check_password("Initial-pass-2026")
    # The change is evidence: who created whom, and why (P3), with the password masked.
    entry = AuditEntry.objects.get(action="create", object_pk=str(user.pk), content_type__model="user")
    assert entry.actor == administrator and entry.reason == "新员工入职"
    assert "Initial-pass-2026" not in str(entry.changes)


def test_validation_errors_shown_translated(client, administrator, sales_clerk):
    client.force_login(administrator)
    response = client.post(
        "/accounts/users/new/",
        {"full_name": "", "username": sales_clerk.username, "language": "zh-hans", "password": "123"},
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert "必填项" in html  # full name required, in Chinese
    assert not User.objects.filter(full_name="").exists()
    response = client.post(
        "/accounts/users/new/",
        {
            "full_name": "重名",
            "username": sales_clerk.username,
            "language": "zh-hans",
            "password": "Long-enough-2026",
        },
    )
    assert response.status_code == 400
    assert "已存在" in response.content.decode()  # "a user with that username already exists"


def test_administrator_deactivates_with_confirmation(client, administrator, sales_clerk):
    client.force_login(administrator)
    page = client.get(f"/accounts/users/{sales_clerk.pk}/deactivate/")
    assert page.status_code == 200 and "确定停用" in page.content.decode()
    sales_clerk.refresh_from_db()
    assert sales_clerk.is_active  # a GET changes nothing
    assert client.post(f"/accounts/users/{sales_clerk.pk}/deactivate/", {"reason": "离职"}).status_code == 302
    sales_clerk.refresh_from_db()
    assert not sales_clerk.is_active


def test_administrator_resets_password_and_signs_out(client, administrator, sales_clerk):
    client.force_login(administrator)
    epoch = sales_clerk.session_epoch
    response = client.post(
        f"/accounts/users/{sales_clerk.pk}/password/",
        {"password1": "Temp-pass-2026", "password2": "Temp-pass-2026"},
    )
    assert response.status_code == 302
    sales_clerk.refresh_from_db()
    assert sales_clerk.check_password("Temp-pass-2026") and sales_clerk.must_change_password
    assert sales_clerk.session_epoch == epoch + 1
    assert Notification.objects.filter(recipient=sales_clerk, template="accounts/password_reset").exists()
    client.post(f"/accounts/users/{sales_clerk.pk}/sign-out/")
    sales_clerk.refresh_from_db()
    assert sales_clerk.session_epoch == epoch + 2


def test_role_screen_edits_grant_table(client, administrator):
    client.force_login(administrator)
    role = Role.objects.get(code="technician")
    page = client.get(f"/accounts/roles/{role.pk}/").content.decode()
    assert 'name="scope__sample.view"' in page
    response = client.post(
        f"/accounts/roles/{role.pk}/",
        {
            "code": "technician",
            "name": role.name,
            "name_en": role.name_en,
            "scope__sample.view": "department",
        },
    )
    assert response.status_code == 302
    assert dict(role.grants.values_list("permission", "scope")) == {"sample.view": "department"}
    auditor = Role.objects.get(code="auditor")
    response = client.post(
        f"/accounts/roles/{auditor.pk}/",
        {"code": "auditor", "name": auditor.name, "scope__sample.change": "all", "scope__sample.view": "all"},
    )
    assert response.status_code == 400 and "只读" in response.content.decode()


def test_department_screen_creates_department(client, administrator):
    client.force_login(administrator)
    response = client.post(
        "/accounts/departments/new/", {"code": "qa_lab", "name": "检测室", "is_active": "on"}
    )
    assert response.status_code == 302
    assert Department.objects.get(code="qa_lab").name == "检测室"


def test_profile_sets_language(client, sales_clerk):
    client.force_login(sales_clerk)
    response = client.post(
        "/accounts/me/", {"full_name": sales_clerk.full_name, "email": "a@example.com", "language": "en"}
    )
    assert response.status_code == 302
    assert response.cookies["django_language"].value == "en"
    sales_clerk.refresh_from_db()
    assert sales_clerk.language == "en"
