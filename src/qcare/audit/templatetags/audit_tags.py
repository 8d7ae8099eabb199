"""``{% load audit_tags %}{% history_for obj %}``: the record's audit timeline (record page tab)."""

from django import template
from django.contrib.contenttypes.models import ContentType
from django.urls import reverse

from qcare.audit import timeline
from qcare.audit.models import AuditEntry

register = template.Library()

TAG_LIMIT = 20


@register.inclusion_tag("audit/_history_tag.html")
def history_for(obj, limit=TAG_LIMIT):
    """The newest ``limit`` entries of ``obj`` with a link to the full, paginated history.

    The page showing ``obj`` has already checked that the user may view it.
    """
    if obj is None or obj.pk is None:
        return {"rows": []}
    content_type = ContentType.objects.get_for_model(obj, for_concrete_model=True)
    entries = list(
        AuditEntry.objects.filter(content_type=content_type, object_pk=str(obj.pk))
        .select_related("content_type")
        .order_by("-seq")[: limit + 1]
    )
    url = reverse("audit:history", args=[content_type.app_label, content_type.model, obj.pk])
    return {"rows": timeline.build(entries[:limit]), "more": len(entries) > limit, "history_url": url}
