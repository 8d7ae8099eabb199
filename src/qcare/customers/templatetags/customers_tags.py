"""Template helpers of the customer file."""

from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

register = template.Library()

_BADGES = {
    "valid": ("text-bg-success", gettext_noop("Licence valid")),
    "expiring": ("text-bg-warning", gettext_noop("Licence expiring soon")),
    "expired": ("text-bg-danger", gettext_noop("Licence expired")),
    "not_yet_valid": ("text-bg-secondary", gettext_noop("Licence not yet valid")),
    "missing": ("text-bg-danger", gettext_noop("No licence")),
}


@register.simple_tag
def licence_badge(status):
    """The coloured licence-status badge (a tag, not an include: it is drawn once per list row)."""
    if status not in _BADGES:
        return mark_safe('<span class="text-body-secondary">—</span>')  # noqa: S308 (constant markup)
    css, label = _BADGES[status]
    return format_html('<span class="badge {}" data-testid="licence-badge">{}</span>', css, _(label))
