"""Permission checks: which actions a user may take and how far (own / department / all)."""

from qcare.core.models import SCOPE_RANK, Scope


def _load_scopes(user):
    from qcare.accounts.models import RolePermission

    scopes = {}
    rows = RolePermission.objects.filter(role__users=user).values_list("permission", "scope")
    for perm, scope in rows:
        if perm not in scopes or SCOPE_RANK[scope] > SCOPE_RANK[scopes[perm]]:
            scopes[perm] = scope
    return scopes


def scope_for(user, perm):
    """The widest scope ``user`` holds for ``perm`` ("module.action"), or None."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if user.is_superuser:
        return Scope.ALL
    scopes = getattr(user, "_qcare_scopes", None)
    if scopes is None:
        scopes = _load_scopes(user)
        user._qcare_scopes = scopes
    module = perm.split(".", 1)[0]
    return scopes.get(perm) or scopes.get(f"{module}.*")


def has_perm(user, perm):
    return scope_for(user, perm) is not None


def require_perm(user, perm, obj=None):
    """Raise NotPermitted unless ``user`` holds ``perm``; with ``obj``, NotFound if outside scope."""
    from qcare.core.errors import NotFound, NotPermitted

    scope = scope_for(user, perm)
    if scope is None:
        raise NotPermitted()
    if obj is not None:
        model = type(obj)
        action = perm.split(".", 1)[1]
        if not model.objects.restrict(user, action).filter(pk=obj.pk).exists():
            raise NotFound()
    return scope
