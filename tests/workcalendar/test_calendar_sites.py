"""Sites, overrides, services and the admin screen of the business calendar (P5)."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.apps import apps as django_apps
from django.urls import reverse

from qcare.core.errors import Conflict, NotPermitted, ReasonRequired, ValidationFailed
from qcare.workcalendar import calendar as cal
from qcare.workcalendar import services
from qcare.workcalendar.models import CalendarOverride, Site

SH = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.django_db


def test_P5_default_site_hq_is_created_by_migration_idempotently(hq):
    import importlib

    migration = importlib.import_module("qcare.workcalendar.migrations.0002_default_site")
    assert hq.is_default and hq.name == "总部" and hq.time_zone == "Asia/Shanghai" and hq.country == "CN"
    assert hq.working_periods["mon"] == [["08:30", "12:00"], ["13:00", "17:30"]]
    assert hq.working_periods["sat"] == []
    migration.create_default_site(django_apps, None)
    assert Site.objects.filter(code="HQ").count() == 1
    assert Site.objects.filter(is_default=True).count() == 1


def test_P5_default_site_is_used_when_no_site_is_given(hq, calendar_admin):
    friday = dt.datetime(2026, 11, 20, 16, 0, tzinfo=SH)
    assert cal.add_working_hours(friday, 6) == dt.datetime(2026, 11, 23, 14, 0, tzinfo=SH)
    services.update_site(
        calendar_admin,
        hq,
        data={"working_periods": {**hq.working_periods, "sat": [["08:30", "12:00"]]}},
        reason="Saturday mornings from December",
    )
    # The cache was dropped: Saturday morning now counts (1.5 h Friday + 3.5 h Saturday).
    assert cal.add_working_hours(friday, 5) == dt.datetime(2026, 11, 21, 12, 0, tzinfo=SH)
    assert cal.add_working_hours(friday, 6) == dt.datetime(2026, 11, 23, 9, 30, tzinfo=SH)


def test_P5_site_override_wins_over_national_calendar(hq, calendar_admin):
    national_day = dt.date(2026, 10, 5)
    ordinary_friday = dt.date(2026, 11, 20)
    assert not cal.is_working_day(national_day, hq)
    services.add_override(
        calendar_admin, hq, date=national_day, kind="working_day", note="盘点", reason="Stocktaking"
    )
    services.add_override(
        calendar_admin, hq, date=ordinary_friday, kind="holiday", note="厂庆", reason="Company anniversary"
    )
    assert cal.is_working_day(national_day, hq)
    assert cal.is_working_day(national_day, "HQ")
    assert cal.is_working_day(national_day)  # default site
    assert not cal.is_working_day(ordinary_friday, hq)
    thursday = dt.datetime(2026, 11, 19, 17, 0, tzinfo=SH)
    assert cal.add_working_hours(thursday, 1, hq) == dt.datetime(2026, 11, 23, 9, 0, tzinfo=SH)
    override = CalendarOverride.objects.get(date=ordinary_friday)
    services.remove_override(calendar_admin, override, reason="Cancelled")
    assert cal.is_working_day(ordinary_friday, hq)


def test_P5_calendar_changes_need_permission_and_reason(hq, calendar_admin, make_user):
    clerk = make_user("clerk")
    with pytest.raises(NotPermitted):
        services.add_override(clerk, hq, date=dt.date(2026, 12, 1), kind="holiday", reason="x")
    with pytest.raises(ReasonRequired):
        services.add_override(calendar_admin, hq, date=dt.date(2026, 12, 1), kind="holiday", reason=" ")
    with pytest.raises(ReasonRequired):
        services.update_site(calendar_admin, hq, data={"name": "总部2"}, reason="")
    assert not CalendarOverride.objects.exists()
    services.add_override(calendar_admin, hq, date=dt.date(2026, 12, 1), kind="holiday", reason="x")
    with pytest.raises(Conflict):
        services.add_override(calendar_admin, hq, date=dt.date(2026, 12, 1), kind="working_day", reason="y")
    assert CalendarOverride.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("working_periods", {"mon": [["12:00", "08:30"]]}),
        ("working_periods", {"mon": [["08:30", "12:00"], ["11:00", "13:00"]]}),
        ("working_periods", {"mon": [["8h", "12:00"]]}),
        ("working_periods", {"monday": []}),
        ("time_zone", "Asia/Beijing"),
        ("country", "China"),
    ],
)
def test_P5_invalid_site_settings_are_refused(hq, calendar_admin, field, value):
    with pytest.raises(ValidationFailed) as exc:
        services.update_site(calendar_admin, hq, data={field: value}, reason="try")
    assert field in exc.value.errors
    hq.refresh_from_db()
    assert hq.time_zone == "Asia/Shanghai" and hq.working_periods["mon"][0] == ["08:30", "12:00"]


def test_P5_only_one_default_site(hq, calendar_admin):
    berlin = services.create_site(
        calendar_admin,
        code="BER",
        name="Berlin",
        time_zone="Europe/Berlin",
        country="de",
        is_default=True,
        reason="New office",
    )
    assert berlin.country == "DE"
    hq.refresh_from_db()
    assert not hq.is_default
    assert list(Site.objects.filter(is_default=True)) == [berlin]
    with pytest.raises(Conflict):
        services.update_site(calendar_admin, berlin, data={"is_default": False}, reason="x")


def test_P5_calendar_screen_needs_calendar_change(client, hq, make_user):
    client.force_login(make_user("nobody"))
    assert client.get(reverse("workcalendar:sites")).status_code == 403
    assert client.get(reverse("workcalendar:site", args=["HQ"])).status_code == 403
    response = client.post(
        reverse("workcalendar:add_override", args=["HQ"]),
        {"date": "2026-12-01", "kind": "holiday", "reason": "x"},
    )
    assert response.status_code == 403
    assert not CalendarOverride.objects.exists()


def test_P5_calendar_screen_lists_sites_and_edits_overrides(client, hq, calendar_admin):
    client.force_login(calendar_admin)
    page = client.get(reverse("workcalendar:sites"))
    assert page.status_code == 200 and "总部" in page.content.decode()
    detail = client.get(reverse("workcalendar:site", args=["HQ"]) + "?year=2026")
    body = detail.content.decode()
    assert detail.status_code == 200
    assert "2026-02-14" in body and "2026-10-10" in body  # adjusted working days shown

    url = reverse("workcalendar:add_override", args=["HQ"])
    refused = client.post(url, {"date": "2026-12-01", "kind": "holiday", "note": "", "reason": ""})
    assert refused.status_code == 200 and not CalendarOverride.objects.exists()
    done = client.post(
        url, {"date": "2026-12-01", "kind": "holiday", "note": "厂庆", "reason": "Anniversary"}
    )
    assert done.status_code == 302
    override = CalendarOverride.objects.get()
    assert not cal.is_working_day(dt.date(2026, 12, 1), hq)

    remove = reverse("workcalendar:remove_override", args=["HQ", override.pk])
    client.post(remove, {"reason": ""})
    assert CalendarOverride.objects.exists()
    client.post(remove, {"reason": "Cancelled"})
    assert not CalendarOverride.objects.exists()


def test_P5_calendar_screen_edits_working_periods(client, hq, calendar_admin):
    client.force_login(calendar_admin)
    url = reverse("workcalendar:site", args=["HQ"])
    form = {
        "code": "HQ",
        "name": "总部",
        "time_zone": "Asia/Shanghai",
        "country": "CN",
        "is_default": "on",
        "periods_mon": "08:30-12:00, 13:00-17:30",
        "periods_tue": "08:30-12:00, 13:00-17:30",
        "periods_wed": "08:30-12:00, 13:00-17:30",
        "periods_thu": "08:30-12:00, 13:00-17:30",
        "periods_fri": "08:30-12:00, 13:00-17:30",
        "periods_sat": "08:00-12:00",
        "periods_sun": "",
        "reason": "Saturday mornings",
    }
    assert client.post(url, {**form, "periods_sat": "12:00-08:00"}).status_code == 200
    hq.refresh_from_db()
    assert hq.working_periods["sat"] == []
    assert client.post(url, form).status_code == 302
    hq.refresh_from_db()
    assert hq.working_periods["sat"] == [["08:00", "12:00"]]
    assert cal.is_working_day(dt.date(2026, 11, 21))
    # The site page shows its history with the reason.
    assert "Saturday mornings" in client.get(url).content.decode()


def test_P5_calendar_screen_is_in_chinese_and_warns_about_missing_years(client, hq, calendar_admin):
    from django.utils import translation

    client.force_login(calendar_admin)
    with translation.override("zh-hans"):
        body = client.get(
            reverse("workcalendar:site", args=["HQ"]) + "?year=2027", HTTP_ACCEPT_LANGUAGE="zh-hans"
        ).content.decode()
    assert "工作日历" in body and "调休上班日" in body
    # chinesecalendar 1.11.0 stops at 2026: the screen says the 2027 调休 are missing.
    assert 'data-testid="calendar-fallback"' in body


def test_P5_cached_rules_follow_changes_by_other_processes_and_rollbacks(hq, calendar_admin, settings):
    from django.db import transaction

    from qcare.core.context import audit_context

    settings.QCARE_CALENDAR_CACHE_SECONDS = 0  # check the stamp on every call
    friday = dt.date(2026, 11, 20)
    assert cal.is_working_day(friday)  # rules now cached
    # Another process writes (no signal reaches this one): bulk_create sends no signals.
    CalendarOverride.objects.bulk_create([CalendarOverride(site=hq, date=friday, kind="holiday")])
    assert not cal.is_working_day(friday)
    with audit_context(actor=calendar_admin, reason="cleanup"):
        CalendarOverride.objects.all().delete()
    assert cal.is_working_day(friday)

    with pytest.raises(RuntimeError), transaction.atomic():
        services.add_override(calendar_admin, hq, date=friday, kind="holiday", reason="x")
        assert not cal.is_working_day(friday)
        raise RuntimeError("roll back")
    assert cal.is_working_day(friday)


def test_P3_calendar_changes_are_audited_with_actor_and_reason(hq, calendar_admin):
    from django.contrib.contenttypes.models import ContentType

    from qcare.audit.models import AuditEntry

    services.update_site(calendar_admin, hq, data={"name": "总部工厂"}, reason="Official name")
    override = services.add_override(
        calendar_admin, hq, date=dt.date(2026, 12, 1), kind="holiday", reason="Anniversary"
    )
    services.remove_override(calendar_admin, override, reason="Cancelled")
    site_entry = AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(Site)).latest("seq")
    assert site_entry.actor == calendar_admin and site_entry.reason == "Official name"
    assert "name" in site_entry.changes
    override_reasons = list(
        AuditEntry.objects.filter(content_type=ContentType.objects.get_for_model(CalendarOverride))
        .order_by("seq")
        .values_list("reason", flat=True)
    )
    assert override_reasons[-2:] == ["Anniversary", "Cancelled"]
