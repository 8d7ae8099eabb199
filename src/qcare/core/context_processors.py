"""Template context for the UI shell (navigation, version, company time zone)."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject


def shell(request):
    """Version, time zone and the navigation entries the current user may see.

    The entries are lazy: pages that never render the navigation (error pages, htmx
    fragments) never pay for the permission lookups.
    """
    from qcare.core import ui

    user = getattr(request, "user", None)
    return {
        "QCARE_VERSION": __import__("qcare").__version__,
        "QCARE_TIME_ZONE": settings.TIME_ZONE,
        "nav_entries": SimpleLazyObject(lambda: ui.nav.for_user(user)),
    }
