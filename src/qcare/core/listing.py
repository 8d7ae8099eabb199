"""The list-page pattern: search, filters, whitelisted sort and pagination over a
*restricted* queryset, all driven by GET parameters so every page can be bookmarked.

    listing = Listing(
        request,
        SampleRecord.objects.restrict(request.user, "view").select_related("owner"),
        search_fields=("number", "title"),
        filters=[ChoiceFilter("status", _("Status"), SampleStatus.choices),
                 ModelFilter("owner", _("Owner"), User.objects.filter(is_active=True)),
                 DateRangeFilter("created", _("Created"), "created_at")],
        columns=[Column("number", _("Number")), Column("title", _("Title")), …],
        default_sort="-number",
        row_template="sample/_row.html",
    )
    return listing.render("sample/list.html", {...})

``listing.render`` answers an htmx request aimed at the table (``HX-Target: qc-listing``)
with the table fragment only; any other request gets the whole page.
"""

import datetime
from dataclasses import dataclass

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.core.forms import BootstrapFormMixin, FastSelect

PAGE_SIZES = (25, 50, 100)
TARGET_ID = "qc-listing"


class KeysFirstPaginator(Paginator):
    """Pages a queryset with joins in two steps: the page's primary keys (filters, sort and LIMIT
    on the main table only), then those rows with their ``select_related`` joins.

    Slicing a ``select_related`` queryset makes the database join every matching row before
    ORDER BY … LIMIT; at 1M complaints one page of open complaints took 13.5 s on SQLite, the
    two steps 37 ms (docs/benchmarks-complaints.md). Querysets with annotations or DISTINCT
    (whose page cannot be rebuilt from keys alone) are paged as usual.
    """

    def page(self, number):
        qs = self.object_list
        if not (
            isinstance(qs, QuerySet)
            and qs.query.select_related
            and not qs.query.annotations
            and not qs.query.distinct
        ):
            return super().page(number)
        number = self.validate_number(number)
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        keys = list(qs.values_list("pk", flat=True)[bottom:top])
        rows = qs.model._default_manager.filter(pk__in=keys)
        rows.query.select_related = qs.query.select_related
        rows = rows.prefetch_related(*qs._prefetch_related_lookups).in_bulk(keys)
        return self._get_page([rows[key] for key in keys if key in rows], number, self)


@dataclass
class Column:
    """A table column; ``sort`` is the ORM field to order by (None = not sortable)."""

    name: str
    label: str
    sort: str | None = "__name__"

    def __post_init__(self):
        if self.sort == "__name__":
            self.sort = self.name


class ChoiceFilter:
    """Filter ``field`` by one of fixed ``choices`` (e.g. a status)."""

    def __init__(self, name, label, choices, field=None):
        self.name, self.label, self.choices, self.field = name, label, choices, field or name

    def form_fields(self):
        return {
            self.name: forms.ChoiceField(
                label=self.label,
                required=False,
                choices=[("", _("All"))] + list(self.choices),
                widget=FastSelect,
            )
        }

    def apply(self, qs, data):
        value = data.get(self.name)
        return qs.filter(**{self.field: value}) if value else qs


class ModelFilter:
    """Filter a foreign key by one object of ``queryset`` (a select of names)."""

    def __init__(self, name, label, queryset, field=None):
        self.name, self.label, self.queryset, self.field = name, label, queryset, field or name

    def form_fields(self):
        return {
            self.name: forms.ModelChoiceField(
                label=self.label,
                required=False,
                queryset=self.queryset,
                empty_label=_("All"),
                widget=FastSelect,
            )
        }

    def apply(self, qs, data):
        value = data.get(self.name)
        return qs.filter(**{self.field: value}) if value else qs


class DateRangeFilter:
    """Filter a date/datetime ``field`` between ``<name>_from`` and ``<name>_to`` (inclusive days)."""

    def __init__(self, name, label, field=None):
        self.name, self.label, self.field = name, label, field or name

    def form_fields(self):
        date = forms.DateInput(attrs={"type": "date"})
        return {
            f"{self.name}_from": forms.DateField(
                label=_("%(label)s from") % {"label": self.label}, required=False, widget=date
            ),
            f"{self.name}_to": forms.DateField(
                label=_("%(label)s to") % {"label": self.label}, required=False, widget=date
            ),
        }

    def apply(self, qs, data):
        start, end = data.get(f"{self.name}_from"), data.get(f"{self.name}_to")
        # Whole days in the company time zone, so "to 2026-03-01" includes that whole day.
        if start:
            qs = qs.filter(**{f"{self.field}__gte": _day_start(start)})
        if end:
            qs = qs.filter(**{f"{self.field}__lt": _day_start(end + datetime.timedelta(days=1))})
        return qs


def _day_start(day):
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))


class ListingForm(BootstrapFormMixin, forms.Form):
    """The GET form of a list page; invalid values are ignored rather than shown as errors."""

    q = forms.CharField(label=_("Search"), required=False, max_length=100)


class Listing:
    """One list page over ``queryset`` (already restricted to what the user may view)."""

    def __init__(
        self,
        request,
        queryset,
        *,
        search_fields=(),
        filters=(),
        columns=(),
        default_sort=None,
        row_template,
        page_sizes=PAGE_SIZES,
        empty_message=None,
    ):
        self.request = request
        self.search_fields = search_fields
        self.filters = list(filters)
        self.columns = list(columns)
        self.row_template = row_template
        self.page_sizes = page_sizes
        self.empty_message = empty_message or _("No records match.")
        self.sortable = {c.name: c.sort for c in self.columns if c.sort}
        self.default_sort = default_sort or (self.columns[0].name if self.columns else None)
        self.form = self._build_form()
        self.data = self.form.cleaned_data if self.form.is_valid() else self._valid_part()
        self.sort = self._current_sort()
        self.page = self._paginate(self._filtered(queryset))

    def _build_form(self):
        form = ListingForm(self.request.GET or None)
        for flt in self.filters:
            form.fields.update(flt.form_fields())
        form.fields["page_size"] = forms.TypedChoiceField(
            label=_("Per page"),
            required=False,
            coerce=int,
            choices=[(n, n) for n in self.page_sizes],
            widget=FastSelect,
        )
        form.style_fields()  # the fields added above need their Bootstrap classes too
        return form

    def _valid_part(self):
        """Cleaned values of the fields that are valid; a bad bookmark still shows a list."""
        return {k: v for k, v in getattr(self.form, "cleaned_data", {}).items() if k not in self.form.errors}

    def _filtered(self, qs):
        term = (self.data.get("q") or "").strip()
        if term and self.search_fields:
            condition = Q()
            for field in self.search_fields:
                condition |= Q(**{f"{field}__icontains": term})
            qs = qs.filter(condition)
        for flt in self.filters:
            qs = flt.apply(qs, self.data)
        field = self.sortable.get(self.sort.lstrip("-")) if self.sort else None
        if field:
            prefix = "-" if self.sort.startswith("-") else ""
            qs = qs.order_by(f"{prefix}{field}", f"{prefix}pk")  # pk: stable order across pages
        return qs

    def _current_sort(self):
        requested = self.request.GET.get("sort", "")
        return requested if requested.lstrip("-") in self.sortable else self.default_sort

    def _paginate(self, qs):
        size = self.data.get("page_size") or self.page_sizes[0]
        return KeysFirstPaginator(qs, size).get_page(self.request.GET.get("page"))

    @property
    def count(self):
        return self.page.paginator.count

    def header(self):
        """Columns with their sort state, for the table header."""
        current = self.sort or ""
        result = []
        for col in self.columns:
            active = current.lstrip("-") == col.name
            descending = active and current.startswith("-")
            result.append(
                {
                    "name": col.name,
                    "label": col.label,
                    "sortable": bool(col.sort),
                    "active": active,
                    "descending": descending,
                    "next_sort": col.name if descending or not active else f"-{col.name}",
                }
            )
        return result

    def is_fragment_request(self):
        htmx = getattr(self.request, "htmx", None)
        return bool(htmx) and htmx.target == TARGET_ID

    def render(self, template, context=None):
        context = {"listing": self, "listing_target": TARGET_ID, **(context or {})}
        if self.is_fragment_request():
            return render(self.request, "core/listing/_table.html", context)
        return render(self.request, template, context)
