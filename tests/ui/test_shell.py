"""The UI shell (issue #2 §9): base layout, navigation, language, dashboard, error pages."""

from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory, override_settings
from django.urls import path, reverse

from qcare.core import ui, views


def _raise_permission_denied(request):
    raise PermissionDenied("Only the quality department may do this.")


def _raise_error(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("deny/", _raise_permission_denied),
    path("boom/", _raise_error),
    *__import__("qcare.urls", fromlist=["urlpatterns"]).urlpatterns,
]
handler403 = "qcare.core.views.permission_denied"
handler404 = "qcare.core.views.page_not_found"
handler500 = "qcare.core.views.server_error"


def test_base_layout_is_chinese_by_default_with_assets_and_language_switch(clerk_client):
    html = clerk_client.get(reverse("core:dashboard")).content.decode()
    assert '<html lang="zh-hans">' in html
    assert "质量管理" in html  # product name QCare 质量管理
    for asset in (
        "bootstrap/css/bootstrap.min.css",
        "bootstrap/js/bootstrap.bundle.min.js",
        "htmx/htmx.min.js",
        "core/qcare.js",
        "core/qcare.css",
    ):
        assert asset in html
    assert 'name="csrf-token"' in html
    assert 'action="/i18n/setlang/"' in html and 'value="en"' in html
    assert 'lang="en">English</button>' in html  # language names in their own language
    # CSP: no inline script or style attribute anywhere in the shell.
    assert "<script>" not in html and "style=" not in html


def test_switching_to_english_changes_lang_and_text(clerk_client):
    response = clerk_client.post("/i18n/setlang/", {"language": "en", "next": reverse("core:dashboard")})
    assert response.status_code == 302
    html = clerk_client.get(reverse("core:dashboard")).content.decode()
    assert '<html lang="en">' in html
    assert "My tasks" in html and "我的任务" not in html


def test_anonymous_user_is_sent_to_login(client, db):
    response = client.get(reverse("core:dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_P7_nav_entries_only_with_permission(client, make_user):
    ui.nav.register("test-entry", "Sample list", "sample:list", permission="sample.view")
    try:
        allowed, denied = make_user(perms=("sample.view",)), make_user()
        client.force_login(allowed)
        assert reverse("sample:list") in client.get(reverse("core:dashboard")).content.decode()
        client.force_login(denied)
        assert reverse("sample:list") not in client.get(reverse("core:dashboard")).content.decode()
    finally:
        ui.nav.unregister("test-entry")


def test_nav_entry_with_unknown_url_is_left_out(make_user):
    ui.nav.register("ghost", "Ghost", "nowhere:list")
    try:
        assert "ghost" not in [e["key"] for e in ui.nav.for_user(make_user())]
    finally:
        ui.nav.unregister("ghost")


def test_user_menu_has_post_sign_out_and_profile_link(clerk_client):
    html = clerk_client.get(reverse("core:dashboard")).content.decode()
    assert f'action="{reverse("accounts:logout")}"' in html
    assert reverse("accounts:profile") in html


def test_dashboard_shows_sample_records_awaiting_my_approval(clerk_client, clerk, make_sample):
    record = make_sample(clerk, title="待批准的样品")
    html = clerk_client.get(reverse("core:dashboard")).content.decode()
    assert "待批准的样品" in html
    assert reverse("sample:detail", args=[record.pk]) in html


def test_dashboard_empty_state_without_tasks(client, make_user):
    client.force_login(make_user())
    response = client.get(reverse("core:dashboard"))
    assert 'data-testid="no-tasks"' in response.content.decode()


def test_task_provider_failure_does_not_break_dashboard(clerk_client):
    def broken(user):
        raise RuntimeError("provider down")

    ui.tasks.register("broken", "Broken", broken)
    try:
        assert clerk_client.get(reverse("core:dashboard")).status_code == 200
    finally:
        ui.tasks.unregister("broken")


def test_task_provider_may_return_a_count(make_user):
    ui.tasks.register("counted", "Counted", lambda user: {"count": 3, "url": "/x/"})
    try:
        groups = {g.key: g for g in ui.tasks.for_user(make_user())}
        assert groups["counted"].count == 3 and groups["counted"].url == "/x/"
    finally:
        ui.tasks.unregister("counted")


def test_404_page_is_translated_and_links_home(clerk_client):
    response = clerk_client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "不在您的职责范围内" in html and reverse("core:dashboard") in html


@override_settings(ROOT_URLCONF=__name__)
def test_403_page_shows_the_reason(clerk_client):
    response = clerk_client.get("/deny/")
    assert response.status_code == 403
    assert "Only the quality department may do this." in response.content.decode()


def test_500_page_renders_without_database_or_request():
    request = RequestFactory().get("/")
    with mock.patch(
        "django.db.backends.base.base.BaseDatabaseWrapper.cursor",
        side_effect=AssertionError("500 page must not query"),
    ):
        response = views.server_error(request)
    assert response.status_code == 500
    body = response.content.decode()
    assert "服务器出错了" in body and "Server error" in body


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_500_handler_is_used_for_unhandled_errors(client, db):
    client.raise_request_exception = False
    response = client.get("/boom/")
    assert response.status_code == 500 and "服务器出错了" in response.content.decode()


@pytest.mark.parametrize("status", [400, 403, 404])
def test_error_pages_render_in_english_too(db, status):
    from django.contrib.auth.models import AnonymousUser
    from django.utils import translation

    handler = {400: views.bad_request, 403: views.permission_denied, 404: views.page_not_found}[status]
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    with translation.override("en"):
        response = handler(request, Exception())
    assert response.status_code == status
    assert "Back to my tasks" in response.content.decode()


def test_record_tab_degrades_to_a_note_when_a_foreign_tag_is_missing(rf):
    from django.template import Context

    from qcare.core.templatetags.qcare_ui import _guarded_tag

    html = _guarded_tag(Context({}), "no_such_tags", "nothing_for", object())
    assert "This section is not available yet." in html or "此部分暂不可用" in html


def test_message_levels_map_to_bootstrap_alerts():
    from qcare.core.templatetags.qcare_ui import message_class

    assert message_class("error") == "danger" and message_class("success") == "success"
