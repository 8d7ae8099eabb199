"""Forms of the calendar admin screen. They only collect input; services decide."""

from django import forms
from django.utils.translation import gettext_lazy as _

from qcare.workcalendar.models import WEEKDAY_KEYS, OverrideKind

WEEKDAY_LABELS = {
    "mon": _("Monday"),
    "tue": _("Tuesday"),
    "wed": _("Wednesday"),
    "thu": _("Thursday"),
    "fri": _("Friday"),
    "sat": _("Saturday"),
    "sun": _("Sunday"),
}


def periods_to_text(periods):
    """[["08:30", "12:00"], ["13:00", "17:30"]] → "08:30-12:00, 13:00-17:30"."""
    return ", ".join(f"{start}-{end}" for start, end in periods or [])


def text_to_periods(text):
    """ "08:30-12:00, 13:00-17:30" → [["08:30", "12:00"], ["13:00", "17:30"]] (model validates times)."""
    periods = []
    for chunk in (text or "").replace("，", ",").split(","):
        chunk = chunk.strip().replace("–", "-").replace("—", "-")
        if not chunk:
            continue
        start, sep, end = chunk.partition("-")
        if not sep:
            raise forms.ValidationError(_("Use times like 08:30-12:00, 13:00-17:30."))
        periods.append([start.strip(), end.strip()])
    return periods


class ReasonField(forms.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Reason for the change"))
        kwargs.setdefault("max_length", 500)
        super().__init__(**kwargs)


class SiteForm(forms.Form):
    """A site's settings with one text box of working periods per weekday."""

    code = forms.SlugField(label=_("Code"), max_length=20)
    name = forms.CharField(label=_("Name"), max_length=100)
    time_zone = forms.CharField(
        label=_("Time zone"),
        max_length=64,
        initial="Asia/Shanghai",
        help_text=_("IANA name, e.g. Asia/Shanghai or Europe/Berlin."),
    )
    country = forms.CharField(
        label=_("Country code"),
        max_length=2,
        initial="CN",
        help_text=_("Two letters (ISO 3166); decides the public holidays."),
    )
    is_default = forms.BooleanField(label=_("Default site"), required=False)
    reason = ReasonField()

    def __init__(self, *args, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        for key in WEEKDAY_KEYS:
            self.fields[f"periods_{key}"] = forms.CharField(
                label=WEEKDAY_LABELS[key],
                required=False,
                max_length=200,
                help_text=_("e.g. 08:30-12:00, 13:00-17:30; empty = no work"),
            )
        if editing:
            self.fields["code"].disabled = True
        # Reason last so the form reads top to bottom.
        self.fields["reason"] = self.fields.pop("reason")

    def working_periods(self):
        """The cleaned per-weekday periods as the model's JSON."""
        return {key: self.cleaned_data[f"periods_{key}"] for key in WEEKDAY_KEYS}

    def clean(self):
        cleaned = super().clean()
        for key in WEEKDAY_KEYS:
            name = f"periods_{key}"
            if name in cleaned:
                try:
                    cleaned[name] = text_to_periods(cleaned[name])
                except forms.ValidationError as exc:
                    self.add_error(name, exc)
        return cleaned

    @classmethod
    def initial_for(cls, site):
        initial = {
            "code": site.code,
            "name": site.name,
            "time_zone": site.time_zone,
            "country": site.country,
            "is_default": site.is_default,
        }
        for key in WEEKDAY_KEYS:
            initial[f"periods_{key}"] = periods_to_text(site.working_periods.get(key))
        return initial


class OverrideForm(forms.Form):
    """Declare one date a holiday or a working day at the site."""

    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    kind = forms.ChoiceField(label=_("Kind"), choices=OverrideKind.choices)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)
    reason = ReasonField()


class RemoveOverrideForm(forms.Form):
    reason = ReasonField()
