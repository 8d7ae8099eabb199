"""List filters of the customer screens: licence status as a queryset annotation.

The status of a customer's trading licences (valid / expiring / expired / missing) is
computed in SQL with ``Exists()`` subqueries on Licence, so the list can filter and show a
badge in the same single query, however many licences a customer has.
"""

from django import forms
from django.db.models import Case, CharField, Exists, OuterRef, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.core.forms import FastSelect
from qcare.customers.choices import TRADING_LICENCE_KINDS, LicenceStatus
from qcare.customers.models import Licence


def expiry_horizon(today=None):
    """The last day that counts as "expiring soon" (policy customers.licence_expiry_warning)."""
    from qcare.customers.services import expiry_window_end

    return expiry_window_end(today or timezone.localdate())


def _licences(**conditions):
    return Licence.objects.filter(customer=OuterRef("pk"), kind__in=TRADING_LICENCE_KINDS, **conditions)


def annotate_licence_status(queryset, today=None):
    """Add ``licence_status`` to every customer: the best status among its trading licences.

    Same rules as ``services.customer_licence_status`` (valid > expiring > not yet valid >
    expired; an inactive licence counts as expired; "missing" only when the customer's type
    needs a licence, else NULL), but in SQL so the list needs no query per row.
    """
    today = today or timezone.localdate()
    horizon = expiry_horizon(today)
    not_ended = Q(valid_until__isnull=True) | Q(valid_until__gte=today)
    started = Q(valid_from__isnull=True) | Q(valid_from__lte=today)
    live = _licences(is_active=True).filter(not_ended)
    beyond = Q(valid_until__isnull=True) | Q(valid_until__gt=horizon)
    return queryset.annotate(
        licence_status=Case(
            When(Exists(live.filter(started).filter(beyond)), then=Value(LicenceStatus.VALID)),
            When(Exists(live.filter(started)), then=Value(LicenceStatus.EXPIRING)),
            When(Exists(live), then=Value(LicenceStatus.NOT_YET_VALID)),
            When(Exists(_licences()), then=Value(LicenceStatus.EXPIRED)),
            When(customer_type__requires_licence=True, then=Value(LicenceStatus.MISSING)),
            default=Value(None),
            output_field=CharField(null=True),
        )
    )


class LicenceStatusFilter:
    """Listing filter on the ``licence_status`` annotation (see annotate_licence_status)."""

    name = "licence"
    label = _("Licence status")
    choices = [
        (LicenceStatus.VALID, LicenceStatus.VALID.label),
        (LicenceStatus.EXPIRING, LicenceStatus.EXPIRING.label),
        (LicenceStatus.EXPIRED, LicenceStatus.EXPIRED.label),
        (LicenceStatus.MISSING, LicenceStatus.MISSING.label),
    ]

    def form_fields(self):
        return {
            self.name: forms.ChoiceField(
                label=self.label, required=False, choices=[("", _("All"))] + self.choices, widget=FastSelect
            )
        }

    def apply(self, qs, data):
        value = data.get(self.name)
        return qs.filter(licence_status=value) if value else qs


class DomesticFilter:
    """Domestic / foreign (is_foreign), as a two-value select."""

    name = "origin"
    label = _("Domestic / foreign")

    def form_fields(self):
        choices = [("", _("All")), ("domestic", _("Domestic")), ("foreign", _("Foreign"))]
        return {
            self.name: forms.ChoiceField(label=self.label, required=False, choices=choices, widget=FastSelect)
        }

    def apply(self, qs, data):
        value = data.get(self.name)
        if value in ("domestic", "foreign"):
            return qs.filter(is_foreign=value == "foreign")
        return qs


class TextFilter:
    """Free-text filter on one field (region: "浙江" matches "浙江省杭州市")."""

    def __init__(self, name, label, field):
        self.name, self.label, self.field = name, label, field

    def form_fields(self):
        return {self.name: forms.CharField(label=self.label, required=False, max_length=100)}

    def apply(self, qs, data):
        value = (data.get(self.name) or "").strip()
        return qs.filter(**{f"{self.field}__icontains": value}) if value else qs
