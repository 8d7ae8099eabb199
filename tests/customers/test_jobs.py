"""The licence expiry job (R-CU-3): who is warned, once per licence and expiry date."""

from datetime import timedelta

import pytest
from django.utils import timezone

from qcare.customers import jobs, services
from qcare.customers.choices import LicenceKind
from qcare.notifications.models import Notification
from qcare.notifications.scheduler import registered


@pytest.fixture
def distributor(sales_clerk, make_customer):
    return make_customer(sales_clerk, type_code="distributor", tax_id="91440101MA5C00003X", region="广东")


def add(actor, customer, days, number, kind=LicenceKind.DEVICE_BUSINESS):
    until = timezone.localdate() + timedelta(days=days) if days is not None else None
    return services.add_licence(actor, customer, data={"kind": kind, "number": number, "valid_until": until})


def inbox(user):
    return Notification.objects.filter(template="customers/licence_expiring", recipient=user, channel="inbox")


def test_R_CU_3_expiry_job_is_registered_daily_at_seven():
    job = registered()["customers.licence_expiry"]
    assert job.cron.expression == "0 7 * * *"


def test_R_CU_3_list_expiring_licences(sales_clerk, distributor, make_customer):
    soon = add(sales_clerk, distributor, 30, "A-30")
    expired = add(sales_clerk, distributor, -3, "A-EXP")
    add(sales_clerk, distributor, 90, "A-90")  # outside the 60-day window
    add(sales_clerk, distributor, None, "A-NONE")  # never expires
    add(sales_clerk, distributor, 10, "ISO", kind=LicenceKind.OTHER)  # not a trading licence
    revoked = add(sales_clerk, distributor, 5, "A-REVOKED")
    services.update_licence(sales_clerk, revoked, data={"is_active": False}, reason="已注销")
    assert list(jobs.list_expiring_licences()) == [expired, soon]


def test_R_CU_3_expiry_job_notifies_owner_and_manager_once_per_window(
    sales_clerk, sales_manager, sales_clerk_2, reviewer_quality, distributor
):
    licence = add(sales_clerk, distributor, 20, "粤食药监械经营许20150123号")
    jobs.warn_expiring_licences()
    jobs.warn_expiring_licences()  # the next day's run (or a second worker): nothing new
    assert inbox(sales_clerk).count() == 1
    assert inbox(sales_manager).count() == 1
    # Owner and manager are also e-mailed; nobody else is told.
    assert Notification.objects.filter(template="customers/licence_expiring", channel="email").count() == 2
    assert not inbox(sales_clerk_2).exists() and not inbox(reviewer_quality).exists()
    assert "粤食药监械经营许20150123号" in inbox(sales_clerk).get().subject

    # A renewal to a date that is still inside the window warns again, once.
    services.update_licence(
        sales_clerk, licence, data={"valid_until": licence.valid_until + timedelta(days=25)}, reason="换证"
    )
    jobs.warn_expiring_licences()
    jobs.warn_expiring_licences()
    assert inbox(sales_clerk).count() == 2
    assert inbox(sales_manager).count() == 2


def test_R_CU_3_expiry_job_skips_inactive_customers(sales_clerk, administrator, distributor):
    add(sales_clerk, distributor, 10, "B-10")
    services.deactivate_customer(administrator, distributor, reason="停止合作")
    assert jobs.warn_expiring_licences() == 0


def test_R_CU_6_abandoned_import_uploads_are_purged_after_a_day(settings, tmp_path):
    """Uploaded import files (they may hold personal data) do not outlive a day."""
    import os
    import time

    from qcare.customers.jobs import purge_import_uploads

    settings.MEDIA_ROOT = tmp_path
    folder = tmp_path / "imports"
    folder.mkdir()
    old, fresh = folder / "old.xlsx", folder / "fresh.csv"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_days_ago = time.time() - 2 * 86400
    os.utime(old, (two_days_ago, two_days_ago))
    assert purge_import_uploads() == 1
    assert not old.exists() and fresh.exists()
