"""A person's walk through the UI shell with the sample record (issue #2 §9), in Chromium."""

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import CJK, PASSWORD, login, login_by_session, shot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAMPLE_ALL = ("sample.view", "sample.add", "sample.change", "sample.delete", "sample.approve")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _visible_text(page):
    """The page's text without the language switch (language names are shown in their own language)."""
    return page.evaluate(
        "() => { const b = document.body.cloneNode(true);"
        " b.querySelectorAll('[data-testid=language-switch]').forEach(e => e.remove());"
        " return b.innerText; }"
    )


def test_walk_login_switch_language_create_edit_approve_attach(page, make_user, tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    make_user("lilei", perms=SAMPLE_ALL)

    # Login page in Chinese.
    page.goto(page.base_url + "/accounts/login/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    assert "登录" in _visible_text(page)
    shot(page, "01-login-zh")

    login(page, type("U", (), {"username": "lilei"}))
    assert page.url.rstrip("/") == page.base_url
    assert "我的任务" in _visible_text(page)
    shot(page, "02-dashboard-zh")

    # Switch to English: no Chinese text left on the page (the user's name is Latin).
    page.click("[data-testid=language-switch] button[value=en]")
    page.wait_for_load_state()
    assert page.get_attribute("html", "lang") == "en"
    assert not CJK.findall(_visible_text(page)), CJK.findall(_visible_text(page))
    shot(page, "03-dashboard-en")

    # Sample list → create: a validation error first, then success.
    page.click("nav >> text=Sample records")
    assert not CJK.findall(_visible_text(page))
    page.click("[data-testid=new-sample]")
    page.click("[data-testid=sample-form] button[type=submit]")
    assert page.locator("#id_title.is-invalid").count() == 1
    assert page.locator(".invalid-feedback").first.is_visible()
    shot(page, "04-create-error")
    page.fill("#id_title", "Cracked housing")
    page.fill("#id_amount", "12.50")
    page.click("[data-testid=sample-form] button[type=submit]")
    page.wait_for_selector("[data-testid=tabs]")
    assert "Cracked housing" in _visible_text(page)
    shot(page, "05-record-details")

    # Edit with a reason; the history tab shows the change and the reason.
    page.click("[data-testid=edit]")
    page.fill("#id_title", "Cracked housing, lot 7")
    page.fill("#id_reason", "Customer gave the lot number")
    page.click("[data-testid=sample-form] button[type=submit]")
    page.wait_for_selector("[data-testid=tabs]")
    page.click("[data-testid=tabs] >> text=History")
    expect(page.locator("[data-testid=tab-panel]")).to_contain_text("Customer gave the lot number")
    assert "?tab=history" in page.url  # htmx pushed the tab URL
    shot(page, "06-history")

    # Approve with e-signature. First signature since sign-in: user name and password
    # (both components); wrong password first.
    page.click("[data-testid=approve]")
    page.fill("#id_username", "lilei")
    page.fill("#id_password", "not-my-password")
    page.click("[data-testid=sign-form] button[type=submit]")
    assert page.locator(".alert-danger, .invalid-feedback").first.is_visible()
    shot(page, "07-sign-wrong-password")
    page.fill("#id_username", "lilei")
    page.fill("#id_password", PASSWORD)
    page.click("[data-testid=sign-form] button[type=submit]")
    page.wait_for_selector("[data-testid=tab-panel]")
    assert "Li Lei" in page.inner_text("[data-testid=tab-panel]")
    shot(page, "08-signatures")

    # Attach a file (htmx upload into the panel) and download it again.
    page.click("[data-testid=tabs] >> text=Attachments")
    page.wait_for_selector("[data-testid=attachments] input[type=file]")
    pdf = tmp_path / "inspection report.pdf"
    pdf.write_bytes(PDF)
    page.set_input_files("[data-testid=attachments] input[type=file]", str(pdf))
    page.click("[data-testid=attachments] button[type=submit]")
    page.wait_for_selector("[data-testid=attachment-link]")
    with page.expect_download() as info:
        page.click("[data-testid=attachment-link]")
    download = info.value
    assert download.suggested_filename == "inspection report.pdf"
    assert Path(download.path()).read_bytes() == PDF
    shot(page, "09-attachments")

    assert page.csp_violations == []


def test_phone_viewport_list_and_record(page, make_user, client):
    from qcare.sample.models import SampleRecord

    user = make_user("phone", perms=SAMPLE_ALL, full_name="王小明")
    for i in range(8):
        record = SampleRecord.objects.create(
            number=f"S-2026-{i:04d}", title=f"外壳裂纹 第{i}批 客户投诉样品", amount=100 + i, owner=user
        )
    login_by_session(page, client, user)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.base_url + "/sample/")
    assert page.locator(".navbar-toggler").is_visible()  # collapsed navigation
    # The page itself never scrolls sideways; only the table wrapper does.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "10-phone-list")
    page.goto(page.base_url + f"/sample/{record.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "11-phone-record")
    page.click(".navbar-toggler")
    page.wait_for_selector("#qc-nav.show")
    shot(page, "12-phone-menu-open")
    assert page.csp_violations == []


def test_list_search_sort_and_tabs_work_without_javascript(browser, live_server, make_user, client):
    from qcare.sample.models import SampleRecord

    user = make_user("nojs", perms=SAMPLE_ALL)
    SampleRecord.objects.create(number="S-A", title="alpha", owner=user)
    SampleRecord.objects.create(number="S-B", title="beta", owner=user)
    context = browser.new_context(java_script_enabled=False, locale="en-US")
    page = context.new_page()
    page.base_url = live_server.url
    try:
        login_by_session(page, client, user)
        page.goto(live_server.url + "/sample/")
        page.fill("input[name=q]", "beta")
        page.click("[data-testid=listing-form] button[type=submit]")
        assert "q=beta" in page.url
        assert page.locator("[data-testid=listing] tbody tr").count() == 1
        page.click("[data-testid=listing] tbody a")
        shot(page, "13-nojs-record")
        page.click("[data-testid=tabs] a[href='?tab=related']")
        assert "?tab=related" in page.url
    finally:
        context.close()


def test_htmx_search_swaps_only_the_table_and_pushes_the_url(page, make_user, client):
    from qcare.sample.models import SampleRecord

    user = make_user("htmx", perms=SAMPLE_ALL)
    SampleRecord.objects.create(number="S-1", title="外壳", owner=user)
    SampleRecord.objects.create(number="S-2", title="包装", owner=user)
    login_by_session(page, client, user)
    page.goto(page.base_url + "/sample/")
    page.evaluate("() => { window.qcMarker = 1; }")  # survives only if the page is not reloaded
    page.fill("input[name=q]", "包装")
    expect(page.locator("[data-testid=listing] tbody tr")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"q=%E5%8C%85%E8%A3%85"))
    assert page.evaluate("() => window.qcMarker") == 1
    assert page.csp_violations == []


def test_delete_asks_for_confirmation(page, make_user, client):
    from qcare.sample.models import SampleRecord

    user = make_user("deleter", perms=SAMPLE_ALL)
    record = SampleRecord.objects.create(number="S-DEL", title="删除我", owner=user)
    login_by_session(page, client, user)
    page.goto(page.base_url + f"/sample/{record.pk}/delete/")
    page.fill("#id_reason", "重复录入")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("[data-testid=confirm-delete]")
    page.wait_for_load_state()
    assert "/delete/" in page.url
    assert SampleRecord.objects.filter(pk=record.pk).exists()  # dismissed: nothing sent
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("[data-testid=confirm-delete]")
    page.wait_for_url(re.compile(r"/sample/$"))
    assert not SampleRecord.objects.filter(pk=record.pk).exists()
