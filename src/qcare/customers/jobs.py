"""Scheduled jobs of the customer file (autodiscovered by the worker)."""

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from qcare.customers.choices import TRADING_LICENCE_KINDS
from qcare.customers.models import Licence
from qcare.notifications.scheduler import periodic

logger = logging.getLogger(__name__)


def list_expiring_licences(on_date=None):
    """Active trading licences of active customers that expire within the warning window
    (policy customers.licence_expiry_warning) or have already expired, soonest first."""
    from qcare.customers.services import expiry_window_end

    on_date = on_date or timezone.localdate()
    return (
        Licence.objects.filter(
            is_active=True,
            kind__in=TRADING_LICENCE_KINDS,
            customer__is_active=True,
            valid_until__isnull=False,
            valid_until__lte=expiry_window_end(on_date),
        )
        .select_related("customer", "customer__owner")
        .order_by("valid_until", "pk")
    )


@periodic("customers.licence_expiry", cron="0 7 * * *")
def warn_expiring_licences():
    """07:00 company time: warn the owner and the sales managers of the owner's department.

    Idempotent per licence and expiry date (dedupe key): running twice warns once, a renewed
    licence with a new date warns again. Returns the number of notifications queued.
    """
    from qcare.customers.services import sales_managers_of
    from qcare.notifications.services import notify

    today = timezone.localdate()
    managers = {}  # department id → sales managers (one query per department, not per licence)
    queued = 0
    for licence in list_expiring_licences(today):
        customer = licence.customer
        owner = customer.owner
        if owner.department_id not in managers:
            managers[owner.department_id] = sales_managers_of(owner.department_id)
        recipients = (
            [owner, *managers[owner.department_id]] if owner.is_active else managers[owner.department_id]
        )
        with transaction.atomic():  # each licence's notices commit on their own
            queued += notify(
                recipients,
                template="customers/licence_expiring",
                context={"licence": licence, "customer": customer, "expired": licence.valid_until < today},
                dedupe_key=f"licence-expiry:{licence.pk}:{licence.valid_until}",
                obj=customer,
            )
    logger.info("licence expiry scan: %s notifications queued", queued)
    return queued


#: Uploaded import files are kept between "check" and "import" only; older ones are removed.
IMPORT_UPLOAD_MAX_AGE = timedelta(hours=24)


@periodic("customers.purge_import_uploads", cron="30 3 * * *")
def purge_import_uploads():
    """Delete uploaded import files older than a day (abandoned after the validation report).

    They can hold personal data (contact phones); nothing refers to them once the import ran
    or was abandoned. Returns how many files were removed.
    """
    from pathlib import Path

    from django.conf import settings

    folder = Path(settings.MEDIA_ROOT) / "imports"
    if not folder.is_dir():
        return 0
    cutoff = timezone.now().timestamp() - IMPORT_UPLOAD_MAX_AGE.total_seconds()
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    if removed:
        logger.info("removed %d abandoned import upload(s)", removed)
    return removed
