"""Unread inbox count for the navigation bar (variable ``inbox_unread``)."""

from django.utils.functional import SimpleLazyObject


def inbox(request):
    """Lazy: pages that never show the badge (fragments, error pages) never run the COUNT."""
    from qcare.notifications.services import unread_count

    user = getattr(request, "user", None)
    return {"inbox_unread": SimpleLazyObject(lambda: unread_count(user))}
