"""Authentication backend that also refuses time-limited accounts past their expiry."""

from django.contrib.auth.backends import ModelBackend

from qcare.accounts.permissions import access_expired


class QCareModelBackend(ModelBackend):
    """Django's ModelBackend; inactive *and* expired users can neither log in nor keep a session."""

    def user_can_authenticate(self, user):
        return super().user_can_authenticate(user) and not access_expired(user)
