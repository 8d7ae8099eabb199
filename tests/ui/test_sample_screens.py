"""The sample record's screens: the exemplar of form and record pages (issue #2 §9)."""

from django.urls import reverse

from qcare.sample.models import SampleRecord, SampleStatus
from tests.ui.conftest import PASSWORD


def test_create_shows_inline_errors_then_creates(clerk_client):
    response = clerk_client.post(reverse("sample:create"), {"title": "", "amount": "-1"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "is-invalid" in html and "invalid-feedback" in html
    assert not SampleRecord.objects.exists()
    response = clerk_client.post(reverse("sample:create"), {"title": "新样品", "amount": "12.50"})
    record = SampleRecord.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("sample:detail", args=[record.pk])
    assert record.number and record.title == "新样品"


def test_P3_edit_requires_a_reason_and_keeps_input(clerk_client, clerk, make_sample):
    record = make_sample(clerk, title="旧标题")
    url = reverse("sample:edit", args=[record.pk])
    response = clerk_client.post(
        url, {"title": "新标题", "amount": "1", "version": record.version, "reason": ""}
    )
    assert response.status_code == 200 and 'value="新标题"' in response.content.decode()
    assert "reason" in response.context["form"].errors
    record.refresh_from_db()
    assert record.title == "旧标题"
    response = clerk_client.post(
        url, {"title": "新标题", "amount": "1", "version": record.version, "reason": "客户要求更正"}
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.title == "新标题" and record.version == 2


def test_R_7_stale_version_is_refused_with_message_and_input_kept(clerk_client, clerk, make_sample):
    record = make_sample(clerk, title="原始")
    stale_version = record.version
    SampleRecord.objects.get(pk=record.pk).save()  # someone else saved meanwhile
    response = clerk_client.post(
        reverse("sample:edit", args=[record.pk]),
        {"title": "我的修改", "amount": "3", "version": stale_version, "reason": "更正"},
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "其他人已修改了它" in html and 'value="我的修改"' in html
    assert SampleRecord.objects.get(pk=record.pk).title == "原始"


def test_delete_needs_confirmation_page_and_reason(clerk_client, clerk, make_sample):
    record = make_sample(clerk)
    url = reverse("sample:delete", args=[record.pk])
    page = clerk_client.get(url).content.decode()
    assert "data-confirm=" in page and 'name="reason"' in page
    assert clerk_client.post(url, {"reason": "", "version": record.version}).status_code == 200
    assert SampleRecord.objects.filter(pk=record.pk).exists()
    response = clerk_client.post(url, {"reason": "重复录入", "version": record.version})
    assert response.status_code == 302 and not SampleRecord.objects.filter(pk=record.pk).exists()


def test_P4_approve_wrong_password_then_right(clerk_client, clerk, make_sample):
    record = make_sample(clerk)
    url = reverse("sample:approve", args=[record.pk])
    # First signature since sign-in: both components (user name and password).
    response = clerk_client.post(
        url, {"username": clerk.username, "password": "wrong-password", "meaning": "approved"}
    )
    assert "password" in response.context["form"].errors
    assert response.status_code == 200 and response.context["form"].errors
    record.refresh_from_db()
    assert record.status != SampleStatus.APPROVED
    response = clerk_client.post(
        url, {"username": clerk.username, "password": PASSWORD, "meaning": "approved", "comment": "同意"}
    )
    assert response.status_code == 302
    record.refresh_from_db()
    assert record.status == SampleStatus.APPROVED
    html = clerk_client.get(
        reverse("sample:detail", args=[record.pk]), {"tab": "signatures"}
    ).content.decode()
    assert clerk.get_full_name() in html


def test_record_page_tabs_work_without_js_and_with_htmx(clerk_client, clerk, make_sample):
    record = make_sample(clerk, title="带标签页")
    url = reverse("sample:detail", args=[record.pk])
    for tab in ("details", "history", "signatures", "attachments", "related"):
        response = clerk_client.get(url, {"tab": tab})
        assert response.status_code == 200 and response.context["tab"] == tab
        assert "<html" in response.content.decode()
    fragment = clerk_client.get(
        url, {"tab": "attachments"}, headers={"HX-Request": "true", "HX-Target": "qc-tab-panel"}
    ).content.decode()
    assert "<html" not in fragment and 'data-testid="attachments"' in fragment


def test_P7_out_of_scope_record_is_404_on_every_screen(client, make_user, make_sample):
    record = make_sample(make_user())
    outsider = make_user(
        perms=("sample.view", "sample.change", "sample.delete", "sample.approve"), scope="own"
    )
    client.force_login(outsider)
    for name in ("detail", "edit", "delete", "approve"):
        assert client.get(reverse(f"sample:{name}", args=[record.pk])).status_code == 404, name


def test_view_only_user_gets_no_edit_buttons(client, make_user, make_sample):
    record = make_sample(make_user())
    viewer = make_user(perms=("sample.view",))
    client.force_login(viewer)
    html = client.get(reverse("sample:detail", args=[record.pk])).content.decode()
    assert reverse("sample:edit", args=[record.pk]) not in html
    assert reverse("sample:approve", args=[record.pk]) not in html
    # Without sample.add the create page itself is refused, GET and POST alike.
    assert client.get(reverse("sample:create")).status_code == 403
    assert client.post(reverse("sample:create"), {"title": "x", "amount": "1"}).status_code == 403
