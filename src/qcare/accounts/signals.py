"""Login receiver: stamp the session for the security middleware (sign-in events are logged by audit)."""

import time

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.utils import translation

SESSION_EPOCH_KEY = "qcare_session_epoch"
SESSION_LAST_SEEN_KEY = "qcare_last_seen"
SIGNED_OUT_REASON_KEY = "qcare_signed_out_reason"


@receiver(user_logged_in, dispatch_uid="qcare.accounts.stamp_session")
def stamp_session(sender, request, user, **kwargs):
    """Remember the user's session epoch and activate their preferred language."""
    if request is None or not hasattr(request, "session"):
        return
    request.session[SESSION_EPOCH_KEY] = user.session_epoch
    request.session[SESSION_LAST_SEEN_KEY] = int(time.time())
    if user.language:
        translation.activate(user.language)
        request.LANGUAGE_CODE = user.language
        request._qcare_set_language = user.language  # the login view puts it into the cookie
