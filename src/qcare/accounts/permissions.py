"""Permission checks: which actions a user may take and how far (own / department / all).

Permissions are strings ``"<module>.<action>"`` that apps declare with
:func:`register_permissions` in their ``AppConfig.ready()``. Roles grant them through
``RolePermission`` rows with a scope; a grant of ``"<module>.*"`` covers every action of the
module. A user's scopes are loaded once per user object (one query) and cached on it, so
one request that checks many permissions asks the database once.
"""

from django.utils import timezone

from qcare.core.models import SCOPE_RANK, Scope

#: module -> {action: label}; filled by apps in AppConfig.ready().
_REGISTRY: dict[str, dict[str, object]] = {}
_MODULE_LABELS: dict[str, object] = {}


def register_permissions(module, actions, *, label=None):
    """Declare the actions of ``module`` (``{"view": _("View …"), …}``) for the role screen."""
    if "." in module or not module:
        raise ValueError(f"invalid permission module {module!r}")
    _REGISTRY.setdefault(module, {}).update(actions)
    if label is not None:
        _MODULE_LABELS[module] = label


def all_permissions():
    """Every registered permission as ``[(module, module_label, [(perm, label), …]), …]``, sorted."""
    result = []
    for module in sorted(_REGISTRY):
        actions = _REGISTRY[module]
        result.append(
            (module, _MODULE_LABELS.get(module, module), [(f"{module}.{a}", actions[a]) for a in actions])
        )
    return result


def is_registered(perm):
    """True for a registered ``module.action`` or a ``module.*`` wildcard of a registered module."""
    module, _dot, action = perm.partition(".")
    return module in _REGISTRY and (action == "*" or action in _REGISTRY[module])


def access_expired(user, now=None):
    """True when a time-limited account (e.g. an external auditor) is past its expiry."""
    expires = getattr(user, "access_expires_at", None)
    return expires is not None and expires <= (now or timezone.now())


def _load_scopes(user):
    from qcare.accounts.models import RolePermission

    scopes = {}
    rows = RolePermission.objects.filter(role__users=user).values_list("permission", "scope")
    for perm, scope in rows:
        if perm not in scopes or SCOPE_RANK[scope] > SCOPE_RANK[scopes[perm]]:
            scopes[perm] = scope
    return scopes


def _widest(*scopes):
    present = [s for s in scopes if s]
    return max(present, key=lambda s: SCOPE_RANK[s]) if present else None


def scope_for(user, perm):
    """The widest scope ``user`` holds for ``perm`` ("module.action"), or None.

    Anonymous, inactive and expired (``access_expires_at`` in the past) users hold nothing;
    superusers hold everything. The cache lives on the user object (one request), so a
    change of roles takes effect on the next request; call :func:`clear_cache` to see it
    earlier on the same object.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    if access_expired(user):
        return None
    if user.is_superuser:
        return Scope.ALL
    scopes = getattr(user, "_qcare_scopes", None)
    if scopes is None:
        scopes = _load_scopes(user)
        user._qcare_scopes = scopes
    module = perm.split(".", 1)[0]
    return _widest(scopes.get(perm), scopes.get(f"{module}.*"))


def clear_cache(user):
    """Forget the cached scopes of ``user`` (after its roles or grants changed)."""
    if user is not None and hasattr(user, "_qcare_scopes"):
        del user._qcare_scopes


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
