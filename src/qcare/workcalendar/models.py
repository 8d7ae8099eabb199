"""Sites with their working hours, and per-site holiday / working-day overrides (P5)."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from qcare.core.models import QModel

WEEKDAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

#: Mon–Fri 08:30–12:00 and 13:00–17:30 (the seeds' standard office hours).
STANDARD_DAY = [["08:30", "12:00"], ["13:00", "17:30"]]


def default_working_periods():
    """Working periods per weekday key; a fresh dict each time (JSON field default)."""
    return {key: ([list(p) for p in STANDARD_DAY] if i < 5 else []) for i, key in enumerate(WEEKDAY_KEYS)}


def parse_hhmm(text):
    """'08:30' → 510 minutes after midnight; '24:00' is allowed as the end of the day."""
    hours, _sep, minutes = str(text).partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError(text)
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > 24 * 60:
        raise ValueError(text)
    return value


def validate_working_periods(value):
    """Each weekday: a list of ["HH:MM", "HH:MM"] pairs, start < end, sorted, not overlapping."""
    if not isinstance(value, dict) or set(value) - set(WEEKDAY_KEYS):
        raise ValidationError(_("Working periods must be given per weekday (mon … sun)."))
    for key in WEEKDAY_KEYS:
        previous_end = -1
        for period in value.get(key) or []:
            try:
                start, end = (parse_hhmm(p) for p in period)
            except (TypeError, ValueError):
                raise ValidationError(_("Use times like 08:30–12:00."), code="format")
            if start >= end or start < previous_end:
                raise ValidationError(
                    _("Working periods must end after they start and must not overlap."), code="order"
                )
            previous_end = end


class Site(QModel):
    """A place with its own time zone, country (for public holidays) and weekly working hours."""

    code = models.SlugField(_("code"), max_length=20, unique=True)
    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    country = models.CharField(_("country code"), max_length=2, default="CN")
    working_periods = models.JSONField(
        _("working periods"), default=default_working_periods, validators=[validate_working_periods]
    )
    is_default = models.BooleanField(_("default site"), default=False)

    controlled = True
    permission_module = "calendar"

    class Meta:
        verbose_name = _("site")
        verbose_name_plural = _("sites")
        ordering = ["-is_default", "code"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="workcalendar_one_default_site",
            )
        ]

    def __str__(self):
        return f"{self.code} {self.name}"

    def clean(self):
        from zoneinfo import available_timezones

        errors = {}
        if self.time_zone not in available_timezones():
            errors["time_zone"] = _("Unknown time zone; use an IANA name such as Asia/Shanghai.")
        if not (len(self.country) == 2 and self.country.isalpha()):
            errors["country"] = _("Use a two-letter ISO country code such as CN.")
        if errors:
            raise ValidationError(errors)


class OverrideKind(models.TextChoices):
    HOLIDAY = "holiday", _("Holiday (no work)")
    WORKING_DAY = "working_day", _("Working day")


class CalendarOverride(QModel):
    """One date at one site that is a holiday or a working day whatever the national calendar says."""

    site = models.ForeignKey(Site, verbose_name=_("site"), on_delete=models.CASCADE, related_name="overrides")
    date = models.DateField(_("date"))
    kind = models.CharField(_("kind"), max_length=20, choices=OverrideKind.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)

    controlled = True
    permission_module = "calendar"

    class Meta:
        verbose_name = _("calendar override")
        verbose_name_plural = _("calendar overrides")
        ordering = ["site", "date"]
        constraints = [
            models.UniqueConstraint(fields=["site", "date"], name="workcalendar_override_site_date")
        ]

    def __str__(self):
        return f"{self.site.code} {self.date} {self.get_kind_display()}"
