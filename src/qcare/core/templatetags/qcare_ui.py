"""Small template helpers of the UI shell (``{% load qcare_ui %}``)."""

from django import template
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

register = template.Library()

_MESSAGE_CLASSES = {"error": "danger", "debug": "secondary"}


@register.simple_tag
def safe_url(name, *args, **kwargs):
    """``reverse()`` that answers "" instead of failing, for links to optional screens."""
    try:
        return reverse(name, args=args or None, kwargs=kwargs or None)
    except NoReverseMatch:
        return ""


@register.filter
def message_class(level_tag):
    """Bootstrap alert colour for a django.contrib.messages level."""
    return _MESSAGE_CLASSES.get(level_tag, level_tag or "info")


def _guarded_tag(context, library, tag_name, obj):
    """Render ``{% load library %}{% tag_name obj %}``; a note when that tag is unavailable.

    The history and signature tags come from other apps; the record page must still render
    (with a visible note) when one of them is missing or fails, instead of a 500.
    """
    source = "{% load " + library + " %}{% " + tag_name + " obj %}"
    try:
        tpl = template.Template(source)
        with context.push(obj=obj):
            return tpl.render(context)
    except Exception:  # noqa: BLE001 - any failure of a foreign tag degrades to a note
        import logging

        logging.getLogger(__name__).exception("{%% %s %%} failed", tag_name)
        return render_to_string(
            "core/_tab_unavailable.html", {"message": _("This section is not available yet.")}
        )


@register.simple_tag(takes_context=True)
def record_history(context, obj):
    """The audit history of ``obj`` (audit's ``history_for``), guarded."""
    return _guarded_tag(context, "audit_tags", "history_for", obj)


@register.simple_tag(takes_context=True)
def record_signatures(context, obj):
    """The e-signatures of ``obj`` (core-mechanisms' ``signatures_for``), guarded."""
    return _guarded_tag(context, "qcare_signatures", "signatures_for", obj)


@register.simple_tag(takes_context=True)
def record_attachments(context, obj):
    """The attachments of ``obj`` with the upload form, guarded like the others."""
    return _guarded_tag(context, "attachment_tags", "attachments_for", obj)


@register.inclusion_tag("core/_sort_header.html", takes_context=True)
def sort_header(context, column):
    """A sortable column header of a list page (``column`` from ``listing.columns``)."""
    return {"column": column, "request": context.get("request"), "listing": context.get("listing")}
