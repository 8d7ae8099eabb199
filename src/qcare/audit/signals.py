"""Sign-in, sign-out and failed sign-in written to the audit trail (never the password)."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from qcare.audit.models import Action
from qcare.audit.services import log_event


def _client(request):
    if request is None:
        return {}
    return {
        "ip": request.META.get("REMOTE_ADDR", ""),
        "user_agent": request.headers.get("User-Agent", "")[:200],
    }


@receiver(user_logged_in, dispatch_uid="qcare-audit-login")
def on_login(sender, request, user, **kwargs):
    log_event(Action.LOGIN, obj=user, actor=user, data=_client(request))


@receiver(user_logged_out, dispatch_uid="qcare-audit-logout")
def on_logout(sender, request, user, **kwargs):
    if user is not None:
        log_event(Action.LOGOUT, obj=user, actor=user, data=_client(request))


@receiver(user_login_failed, dispatch_uid="qcare-audit-login-failed")
def on_login_failed(sender, credentials, request=None, **kwargs):
    # Only the user name is kept: the credentials may hold the (mistyped) password.
    username = str(credentials.get("username", ""))[:150] if isinstance(credentials, dict) else ""
    log_event(Action.LOGIN_FAILED, data={"username": username, **_client(request)})
