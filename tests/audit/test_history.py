"""P3 / R-RC-3: the history of a record shows who, when, what (old struck through, new), why."""

import re

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from qcare.audit.services import log_event
from qcare.core.context import audit_context
from qcare.sample.models import SampleRecord
from tests.audit.helpers import department, make_sample, user_with


def _history_url(record):
    return reverse("audit:history", args=["sample", "samplerecord", record.pk])


@pytest.fixture
def edited_record(db):
    owner = user_with({"sample.view": "own"}, full_name="陈销售", dept=department("sales", "销售部"))
    record = make_sample(owner, title="旧标题 <b>", amount="5.00")
    record = SampleRecord.objects.get(pk=record.pk)
    with audit_context(actor=owner, reason="客户来函更正 <script>"):
        record.title = "新标题 & <i>"
        record.save()
    log_event("export", obj=record, actor=owner, data={"format": "xlsx"})
    return owner, record


def test_P3_history_view_shows_old_new_who_when_why(client, edited_record):
    owner, record = edited_record
    client.force_login(owner)
    response = client.get(_history_url(record), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200
    html = response.content.decode()
    html = html[html.index('data-testid="audit-timeline"') :]
    # What: old value struck through, new value inserted, both escaped.
    assert re.search(r"<del[^>]*>旧标题 &lt;b&gt;</del>", html)
    assert re.search(r"<ins[^>]*>新标题 &amp; &lt;i&gt;</ins>", html)
    # Why, who, and the business event in the same timeline.
    assert "客户来函更正 &lt;script&gt;" in html and "客户来函更正 <script>" not in html
    assert "陈销售" in html
    assert html.index("xlsx") < html.index("新标题"), "newest first"
    # When: in the company time zone (Asia/Shanghai, UTC+8).
    update = record_entry(record, "update")
    local = update.at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    assert local.strftime("%Y-%m-%d %H:%M:%S") in html
    # Field labels are the translated verbose names.
    with translation.override("zh-hans"):
        label = str(SampleRecord._meta.get_field("title").verbose_name)
    assert label in html


def record_entry(record, action):
    from qcare.audit.models import AuditEntry

    return AuditEntry.objects.filter(object_pk=str(record.pk), action=action).order_by("-seq").first()


def test_P3_history_404_outside_scope(client, edited_record):
    _owner, record = edited_record
    stranger = user_with({"sample.view": "own"}, full_name="外人")
    client.force_login(stranger)
    assert client.get(_history_url(record)).status_code == 404
    nobody = user_with(full_name="无权限")
    client.force_login(nobody)
    assert client.get(_history_url(record)).status_code == 404
    assert client.get(reverse("audit:history", args=["nope", "model", 1])).status_code == 404
    assert client.get(reverse("audit:history", args=["sample", "samplerecord", "abc"])).status_code == 404


def test_P3_history_requires_login(client, edited_record):
    _owner, record = edited_record
    response = client.get(_history_url(record))
    assert response.status_code == 302


def test_P3_auditor_sees_history_of_deleted_record(client, edited_record):
    owner, record = edited_record
    pk = record.pk
    with audit_context(actor=owner, reason="作废"):
        record.delete()
    auditor = user_with({"audit.view": "all"}, full_name="外审员")
    client.force_login(auditor)
    response = client.get(reverse("audit:history", args=["sample", "samplerecord", pk]))
    assert response.status_code == 200
    assert "作废" in response.content.decode()


def test_P3_history_for_tag_renders_timeline(edited_record):
    _owner, record = edited_record
    html = Template("{% load audit_tags %}{% history_for obj %}").render(Context({"obj": record}))
    assert "<del" in html and "旧标题 &lt;b&gt;" in html
    assert "客户来函更正" in html


def test_P3_audit_log_screen_filters_and_permission(client, edited_record):
    owner, record = edited_record
    client.force_login(owner)
    assert client.get(reverse("audit:log")).status_code == 403
    auditor = user_with({"audit.view": "all"}, full_name="外审员")
    client.force_login(auditor)
    response = client.get(reverse("audit:log"), {"action": "export", "model": "sample.samplerecord"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "xlsx" in html and "客户来函更正" not in html
    response = client.get(reverse("audit:log"), {"actor": owner.pk, "action": "update"})
    assert "客户来函更正" in response.content.decode()
    response = client.get(reverse("audit:log"), {"date_from": "2000-01-01", "date_to": "2000-01-02"})
    assert "客户来函更正" not in response.content.decode() and "xlsx" not in response.content.decode()


def test_P3_record_page_history_tab_uses_history_for(edited_record, rf):
    """The UI shell's guarded record tab renders this app's timeline (not its fallback note)."""
    _owner, record = edited_record
    request = rf.get("/")
    html = Template("{% load qcare_ui %}{% record_history obj %}").render(
        Context({"obj": record, "request": request})
    )
    assert 'data-testid="audit-history"' in html and "<ins" in html


def test_P3_history_shows_datetime_values_in_company_time_zone():
    from qcare.audit.timeline import _local_time

    assert _local_time("2026-02-17T02:30:00+00:00") == "2026-02-17 10:30:00"  # Asia/Shanghai
