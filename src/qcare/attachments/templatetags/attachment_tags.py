"""``{% load attachment_tags %}{% attachments_for obj %}``: the list and the upload form."""

from django import template
from django.template.loader import render_to_string

register = template.Library()


@register.simple_tag(takes_context=True)
def attachments_for(context, obj):
    """Attachments of ``obj`` the current user can see, with an upload form if they may change it."""
    from qcare.attachments import services
    from qcare.attachments.views import _panel_context

    request = context.get("request")
    if request is None or not services.parent_allows(request.user, obj, "view"):
        return ""
    return render_to_string("attachments/_panel.html", _panel_context(request, obj), request=request)
