"""Numbering (P2): patterns, periods, width overflow, gap-free under concurrency."""

import threading
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone, translation

from qcare.core import numbering
from qcare.core.errors import ValidationFailed
from qcare.core.models_mech import NumberCounter, NumberPattern

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _take(record_type, when=None):
    with transaction.atomic():
        return numbering.next_number(record_type, when=when)


@pytest.mark.django_db
def test_P2_default_patterns_cover_every_spec_record_type():
    expected = {
        "customer", "order", "contract_review", "change_request", "production_notice", "shipment",
        "feedback", "complaint", "capa", "return", "advisory_notice", "service_call",
        "maintenance_contract", "requirement", "survey", "sample",
    }  # fmt: skip
    assert expected <= set(numbering.DEFAULT_PATTERNS)
    for pattern in numbering.DEFAULT_PATTERNS.values():
        numbering.parse_pattern(pattern)  # every default is valid


@pytest.mark.django_db
def test_P2_numbers_follow_pattern_and_count_up():
    when = datetime(2026, 3, 5, 10, 0, tzinfo=SHANGHAI)
    assert _take("customer", when) == "C00001"
    assert _take("customer", when) == "C00002"
    assert _take("complaint", when) == "KS-2603-001"
    assert _take("service_call", when) == "FW-20260305-001"
    assert _take("survey", when) == "MY-2026-01"


@pytest.mark.django_db
def test_P2_never_restarting_pattern_continues_across_years():
    assert _take("customer", datetime(2026, 12, 31, 12, tzinfo=SHANGHAI)) == "C00001"
    assert _take("customer", datetime(2027, 1, 1, 12, tzinfo=SHANGHAI)) == "C00002"


@pytest.mark.django_db
def test_P2_monthly_pattern_restarts_each_month():
    with time_machine.travel(datetime(2026, 1, 31, 15, tzinfo=SHANGHAI), tick=False):
        assert _take("complaint") == "KS-2601-001"
        assert _take("complaint") == "KS-2601-002"
    with time_machine.travel(datetime(2026, 2, 1, 9, tzinfo=SHANGHAI), tick=False):
        assert _take("complaint") == "KS-2602-001"
    with time_machine.travel(datetime(2027, 1, 3, 9, tzinfo=SHANGHAI), tick=False):
        assert _take("complaint") == "KS-2701-001"
    assert NumberCounter.objects.get(record_type="complaint", period="2026-01").last_value == 2


@pytest.mark.django_db
def test_P2_daily_pattern_restarts_each_day_in_company_time_zone():
    # 2026-03-05 23:30 UTC is already 2026-03-06 07:30 in Shanghai: the company's date counts.
    with time_machine.travel(datetime(2026, 3, 5, 15, 59, tzinfo=ZoneInfo("UTC")), tick=False):
        assert _take("service_call") == "FW-20260305-001"
    with time_machine.travel(datetime(2026, 3, 5, 23, 30, tzinfo=ZoneInfo("UTC")), tick=False):
        assert timezone.now().date().day == 5
        assert _take("service_call") == "FW-20260306-001"
        assert _take("service_call") == "FW-20260306-002"


@pytest.mark.django_db
def test_P2_yearly_pattern_restarts_each_year():
    assert _take("capa", datetime(2026, 12, 31, 23, tzinfo=SHANGHAI)) == "CA-2026-0001"
    assert _take("capa", datetime(2027, 1, 1, 0, 30, tzinfo=SHANGHAI)) == "CA-2027-0001"


@pytest.mark.django_db
def test_P2_width_overflow_adds_digits():
    NumberCounter.objects.create(record_type="survey", period="2026", last_value=99)
    assert _take("survey", datetime(2026, 6, 1, tzinfo=SHANGHAI)) == "MY-2026-100"


@pytest.mark.django_db
def test_P2_rolled_back_create_gives_its_number_back():
    when = datetime(2026, 3, 5, tzinfo=SHANGHAI)
    with pytest.raises(RuntimeError), transaction.atomic():
        assert numbering.next_number("customer", when=when) == "C00001"
        raise RuntimeError("the create failed after taking a number")
    assert _take("customer", when) == "C00001"


@pytest.mark.django_db(transaction=True)
def test_P2_next_number_outside_transaction_refused():
    """Without the caller's transaction the counter lock would end before the record is saved."""
    assert not connection.in_atomic_block
    with pytest.raises(RuntimeError, match="inside the caller's transaction"):
        numbering.next_number("customer")
    assert not NumberCounter.objects.exists()


@pytest.mark.django_db
def test_P2_administrator_pattern_overrides_default(make_user):
    admin = make_user(perms=["numbering.change"])
    numbering.set_pattern(admin, "customer", "KH{YYYY}-{NNNN}", reason="新编号规则")
    assert NumberPattern.objects.get(record_type="customer").pattern == "KH{YYYY}-{NNNN}"
    assert _take("customer", datetime(2026, 3, 5, tzinfo=SHANGHAI)) == "KH2026-0001"


@pytest.mark.django_db
def test_P2_pattern_change_requires_permission_and_reason(make_user):
    from qcare.core.errors import NotPermitted, ReasonRequired

    with pytest.raises(NotPermitted):
        numbering.set_pattern(make_user(), "customer", "C{NNNNN}", reason="x")
    admin = make_user(perms=["numbering.change"])
    with pytest.raises(ReasonRequired):
        numbering.set_pattern(admin, "customer", "C{NNNNN}", reason="  ")
    assert not NumberPattern.objects.exists()


@pytest.mark.parametrize(
    "pattern",
    [
        "C{NNNNN}{X}",
        "C-{yyyy}-{NNN}",
        "C{NNN}-{NN}",
        "C-{YYYY}",
        "C-{MM}-{NNN}",
        "C-{YYYY}{DD}-{NN}",
        "C{NNN",
    ],
)
def test_P2_invalid_pattern_refused(pattern):
    with pytest.raises(ValidationFailed) as info:
        numbering.parse_pattern(pattern)
    assert info.value.errors["pattern"]


def test_P2_unknown_token_error_is_translated():
    with translation.override("zh-hans"), pytest.raises(ValidationFailed) as info:
        numbering.parse_pattern("C-{QQ}-{NNN}")
    message = info.value.errors["pattern"][0]
    assert "{QQ}" in message
    assert "未知" in message


def _create_concurrently(actor, count):
    from qcare.sample.services import create_sample

    barrier = threading.Barrier(count)
    numbers, errors = [], []
    lock = threading.Lock()

    def worker(i):
        try:
            barrier.wait()
            record = create_sample(actor, title=f"并发 {i}")
            with lock:
                numbers.append(record.number)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            with lock:
                errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return numbers, errors


@pytest.mark.django_db(transaction=True)
def test_P2_50_concurrent_creators_distinct_gap_free(make_user, notifications_sent):
    """50 threads create sample records at once: 50 distinct numbers, exactly 1..50."""
    from qcare.sample.models import SampleRecord

    actor = make_user(is_superuser=True)
    numbers, errors = _create_concurrently(actor, 50)
    assert errors == []
    assert len(numbers) == len(set(numbers)) == 50
    year = timezone.localtime().year
    assert sorted(numbers) == [f"SMP-{year}-{n:04d}" for n in range(1, 51)]
    assert SampleRecord.objects.count() == 50
    assert NumberCounter.objects.get(record_type="sample").last_value == 50


@pytest.mark.django_db
def test_P2_numbering_screen_shows_patterns_and_edits_with_reason(client, make_user):
    from django.urls import reverse

    viewer = make_user(perms=["numbering.view"])
    client.force_login(viewer)
    page = client.get(reverse("core:numbering"))
    assert page.status_code == 200 and "KS-{YY}{MM}-{NNN}" in page.content.decode()
    assert client.get(reverse("core:numbering_edit", kwargs={"record_type": "complaint"})).status_code == 403

    admin = make_user(perms=["numbering.view", "numbering.change"])
    client.force_login(admin)
    url = reverse("core:numbering_edit", kwargs={"record_type": "complaint"})
    bad = client.post(url, {"pattern": "TS-{QQ}-{NNN}", "reason": "试验"})
    assert bad.status_code == 200 and not NumberPattern.objects.exists()
    assert client.post(url, {"pattern": "TS-{YYYY}-{NNNN}", "reason": ""}).status_code == 200
    assert client.post(url, {"pattern": "KS{YYYY}{MM}-{NNNN}", "reason": "新程序"}).status_code == 302
    assert NumberPattern.objects.get(record_type="complaint").pattern == "KS{YYYY}{MM}-{NNNN}"
    assert client.get(reverse("core:numbering_edit", kwargs={"record_type": "nope"})).status_code == 404
