"""Changes to the business calendar: every one checks ``calendar.change``, needs a reason,
runs in one transaction with the actor and reason bound for the audit trail (DESIGN rule 1).
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, ReasonRequired, ValidationFailed
from qcare.workcalendar.models import CalendarOverride, OverrideKind, Site
from qcare.workcalendar.rules import clear_cache

SITE_FIELDS = ("name", "time_zone", "country", "working_periods", "is_default")


def _require_reason(reason):
    if not (reason or "").strip():
        raise ReasonRequired()
    return reason.strip()


def _full_clean(obj):
    try:
        # The one-default constraint is kept by _make_default inside the transaction.
        obj.full_clean(validate_constraints=False)
    except ValidationError as exc:
        raise ValidationFailed(_("Please correct the errors below."), errors=exc.message_dict)


def _make_default(site):
    """Only one site is the default: clear the flag elsewhere before setting it here."""
    for other in Site.objects.filter(is_default=True).exclude(pk=site.pk):
        other.is_default = False
        other.save(update_fields=["is_default", "updated_at"])


def create_site(
    actor,
    *,
    code,
    name,
    time_zone="Asia/Shanghai",
    country="CN",
    working_periods=None,
    is_default=False,
    reason,
):
    """Add a site (its own time zone, country and working hours)."""
    require_perm(actor, "calendar.change")
    reason = _require_reason(reason)
    site = Site(
        code=code, name=name, time_zone=time_zone, country=(country or "").upper(), is_default=is_default
    )
    if working_periods is not None:
        site.working_periods = working_periods
    _full_clean(site)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        if is_default:
            _make_default(site)
        site.save()
    clear_cache()
    return site


def update_site(actor, site, *, data, reason):
    """Change a site's name, time zone, country, working periods or default flag."""
    require_perm(actor, "calendar.change")
    reason = _require_reason(reason)
    unknown = set(data) - set(SITE_FIELDS)
    if unknown:
        raise ValidationFailed(errors={f: [_("This field cannot be changed.")] for f in sorted(unknown)})
    if site.is_default and data.get("is_default") is False:
        raise Conflict(_("Make another site the default instead."))
    for field, value in data.items():
        setattr(site, field, value.upper() if field == "country" else value)
    _full_clean(site)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        if site.is_default:
            _make_default(site)
        site.save()
    clear_cache()
    return site


def add_override(actor, site, *, date, kind, note="", reason):
    """Declare ``date`` a holiday or a working day at ``site`` (wins over the national calendar)."""
    require_perm(actor, "calendar.change")
    reason = _require_reason(reason)
    if kind not in OverrideKind.values:
        raise ValidationFailed(errors={"kind": [_("Choose holiday or working day.")]})
    override = CalendarOverride(site=site, date=date, kind=kind, note=note)
    try:
        with transaction.atomic(), audit_context(actor=actor, reason=reason):
            override.save()
    except IntegrityError:
        raise Conflict(
            _("This date already has an override at this site; remove it first."),
            errors={"date": [_("This date already has an override at this site.")]},
        )
    clear_cache()
    return override


def remove_override(actor, override, *, reason):
    """Delete an override; the date follows the national calendar again."""
    require_perm(actor, "calendar.change")
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        override.delete()
    clear_cache()
