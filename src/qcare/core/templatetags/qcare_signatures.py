"""``{% load qcare_signatures %}{% signatures_for obj %}``: a record's e-signatures (P4)."""

from django import template
from django.conf import settings

from qcare.core import signatures

register = template.Library()


@register.inclusion_tag("core/signatures/_list.html")
def signatures_for(obj):
    """Name, meaning, time (company time zone), comment, and a red badge when invalid."""
    return {"signatures": signatures.signatures_for(obj), "record": obj, "company_tz": settings.TIME_ZONE}
