"""Idle session timeout, "log out everywhere" (session epoch) and forced password change.

Runs after AuthenticationMiddleware. For a signed-in session user it logs the session out
when

* the user was deactivated or a time-limited account expired,
* the user's ``session_epoch`` moved on since this session signed in (password change,
  deactivation, an administrator's "sign out all sessions"),
* no request came for ``settings.SESSION_IDLE_TIMEOUT`` seconds.

The reason is kept in the fresh anonymous session, and the login page explains it (the
message framework is not yet available at this point of the middleware chain).
"""

import time

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.shortcuts import redirect
from django.urls import reverse

from qcare.accounts.permissions import access_expired
from qcare.accounts.signals import SESSION_EPOCH_KEY, SESSION_LAST_SEEN_KEY, SIGNED_OUT_REASON_KEY

#: last-seen is rewritten at most this often (seconds), so not every request saves the session.
LAST_SEEN_RESOLUTION = 30


class SessionSecurityMiddleware:
    """Ends sessions that are idle, stale (epoch) or belong to users who may no longer sign in."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and not user.is_authenticated and self._refused_session(request):
            # The backend no longer accepts this session's user (deactivated, or expired with
            # QCareModelBackend): end the session properly instead of leaving it half alive.
            logout(request)
            request.session[SIGNED_OUT_REASON_KEY] = "inactive"
        elif user is not None and user.is_authenticated and hasattr(request, "session"):
            reason = self._end_reason(request, user)
            if reason:
                logout(request)
                request.session[SIGNED_OUT_REASON_KEY] = reason
            else:
                self._touch(request)
                if user.must_change_password and not self._exempt(request):
                    return redirect("accounts:password_change")
        return self.get_response(request)

    @staticmethod
    def _refused_session(request):
        session = getattr(request, "session", None)
        return session is not None and SESSION_KEY in session

    @staticmethod
    def _end_reason(request, user):
        if not user.is_active or access_expired(user):
            return "inactive"
        if request.session.get(SESSION_EPOCH_KEY) != user.session_epoch:
            return "epoch"
        last_seen = request.session.get(SESSION_LAST_SEEN_KEY)
        if last_seen is not None and time.time() - last_seen > settings.SESSION_IDLE_TIMEOUT:
            return "idle"
        return None

    @staticmethod
    def _touch(request):
        now = int(time.time())
        if now - request.session.get(SESSION_LAST_SEEN_KEY, 0) >= LAST_SEEN_RESOLUTION:
            request.session[SESSION_LAST_SEEN_KEY] = now

    @staticmethod
    def _exempt(request):
        """Pages a user with a temporary password may still reach."""
        allowed = (
            reverse("accounts:password_change"),
            reverse("accounts:logout"),
            settings.STATIC_URL,
            "/i18n/",
        )
        return request.path.startswith(allowed) or request.path.startswith("/api/")
