"""Template context for the UI shell (navigation, unread count, company name)."""

from django.conf import settings


def shell(request):
    return {"QCARE_VERSION": __import__("qcare").__version__, "QCARE_TIME_ZONE": settings.TIME_ZONE}
