"""View decorators shared by every app."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from qcare.accounts.permissions import has_perm


def permission_required(perm):
    """Sign-in required, then 403 unless the user holds ``perm`` ("module.action") in any scope.

    Object scope is not checked here: detail views fetch through ``restrict()`` /
    ``get_restricted_or_404`` so that records outside the scope answer 404.
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_perm(request.user, perm):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
