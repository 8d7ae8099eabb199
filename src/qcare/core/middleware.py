"""Request context (request id, audit binding) and the company-language locale middleware."""

import re
import uuid

from django.middleware.locale import LocaleMiddleware

from qcare.core.context import audit_context

_SAFE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        with audit_context(request=request, request_id=request.request_id):
            response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class CompanyLocaleMiddleware(LocaleMiddleware):
    """The company's language (zh-Hans) unless the person chose another.

    Django's LocaleMiddleware follows the browser's Accept-Language, so a workstation with
    an English browser would get an English login page. For the web UI the choice is: the
    language cookie set by the language switch (or at login from the user's profile),
    else ``LANGUAGE_CODE``. The API still honours Accept-Language (integrations ask for
    their language per request).
    """

    def process_request(self, request):
        if not request.path.startswith("/api/"):
            request.META.pop("HTTP_ACCEPT_LANGUAGE", None)
        super().process_request(request)
