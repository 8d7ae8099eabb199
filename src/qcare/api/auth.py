"""API authentication: bearer tokens for integrations, the Django session for the browser.

Both are declared on the API, so both appear as OpenAPI security schemes. The order matters:
a bearer token is tried first (it is never sent automatically by a browser, so it needs no
CSRF check); the session is tried second and, for unsafe methods, must pass Django's CSRF
check — otherwise any site could make a signed-in user's browser change records.
"""

from django.conf import settings
from django.middleware.csrf import CsrfViewMiddleware
from ninja.security import APIKeyCookie, HttpBearer

from qcare.core.errors import DomainError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CsrfFailed(DomainError):
    """A session-authenticated unsafe request without a valid CSRF token (HTTP 403)."""

    status = 403
    code = "csrf_failed"


class BearerAuth(HttpBearer):
    """``Authorization: Bearer <token>``, resolved by :func:`qcare.accounts.tokens.user_for_token`."""

    def authenticate(self, request, token):
        # Imported lazily: accounts owns the token model and may import the API for its own routes.
        from qcare.accounts.tokens import user_for_token

        user = user_for_token(token)
        if user is None:
            return None
        # Views, templates and get_actor() read request.user; make it the token's owner.
        request.user = user
        return user


def _csrf_ok(request):
    """Run Django's CSRF check the way CsrfViewMiddleware would for a normal view."""
    middleware = CsrfViewMiddleware(lambda req: None)
    request.csrf_processing_done = False
    middleware.process_request(request)
    return middleware.process_view(request, lambda req: None, (), {}) is None


class SessionCsrfAuth(APIKeyCookie):
    """The browser's Django session; unsafe methods must carry the CSRF token (``X-CSRFToken``)."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        # Unlike ninja's SessionAuth, check CSRF only once we know a session user is present:
        # an anonymous request must answer 401 (not 403), and a bearer request never gets here.
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request, key):
        from django.utils.translation import gettext as _

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return None
        if request.method not in SAFE_METHODS and not _csrf_ok(request):
            raise CsrfFailed(_("CSRF check failed: reload the page and try again."))
        return user


bearer_auth = BearerAuth()
session_auth = SessionCsrfAuth()
API_AUTH = [bearer_auth, session_auth]
