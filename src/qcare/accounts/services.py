"""Services for users, departments, roles and API tokens (DESIGN rule 1).

Every function checks the actor's permission, validates, works in one transaction with the
actor and reason bound for the audit trail, queues notifications, and returns. Views, the
API and management commands call these; none of them writes accounts models directly.
"""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from qcare.accounts import tokens
from qcare.accounts.models import ApiToken, Department, Role, RolePermission, User
from qcare.accounts.permissions import clear_cache, is_registered, require_perm
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, ValidationFailed
from qcare.core.models import Scope
from qcare.notifications.services import notify

USER_FIELDS = (
    "full_name",
    "username",
    "email",
    "department",
    "language",
    "phone",
    "is_active",
    "access_expires_at",
)
PROFILE_FIELDS = ("full_name", "email", "phone", "language")
DEPARTMENT_FIELDS = ("code", "name", "name_en", "parent", "manager", "is_active")
ROLE_FIELDS = ("code", "name", "name_en", "description")


def _as_validation_failed(exc):
    """Turn a Django ValidationError into our ValidationFailed (field -> messages)."""
    if hasattr(exc, "error_dict"):
        errors = {field: [str(m) for e in errs for m in e.messages] for field, errs in exc.error_dict.items()}
    else:
        errors = {"__all__": [str(m) for m in exc.messages]}
    return ValidationFailed(_("Please correct the errors below."), errors=errors)


def _full_clean(obj, exclude=None):
    try:
        obj.full_clean(exclude=exclude)
    except ValidationError as exc:
        raise _as_validation_failed(exc)


def _check_password(password, user, field="password"):
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(_("Please correct the errors below."), errors={field: list(exc.messages)})


def _apply(obj, data, allowed):
    unknown = set(data) - set(allowed)
    if unknown:
        raise ValidationFailed(errors={f: [_("This field cannot be changed.")] for f in sorted(unknown)})
    for field, value in data.items():
        setattr(obj, field, value)


# --- Users ------------------------------------------------------------------------------


def create_user(actor, *, data, password, roles=(), reason=None):
    """Create a user with an initial password they must change at first sign-in."""
    require_perm(actor, "accounts.add")
    user = User()
    _apply(user, data, USER_FIELDS)
    _full_clean(user, exclude=["password"])
    _check_password(password, user)
    user.set_password(password)
    user.must_change_password = True
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        user.save()
        user.roles.set(roles)
    return user


def update_user(actor, user, *, data, roles=None, reason=None):
    """Change a user's details and roles; deactivating here also ends their sessions."""
    require_perm(actor, "accounts.change", user)
    was_active = user.is_active
    _apply(user, data, USER_FIELDS)
    if actor.pk == user.pk and not user.is_active:
        raise Conflict(_("You cannot deactivate your own account."))
    _full_clean(user, exclude=["password"])
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        if was_active and not user.is_active:
            user.session_epoch += 1
        user.save()
        if roles is not None:
            user.roles.set(roles)
    clear_cache(user)
    return user


def deactivate_user(actor, user, *, reason=None):
    """Deactivate ``user``: they can no longer sign in and every session of theirs ends."""
    require_perm(actor, "accounts.change", user)
    if actor.pk == user.pk:
        raise Conflict(_("You cannot deactivate your own account."))
    if not user.is_active:
        raise Conflict(_("This user is already inactive."))
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        user.is_active = False
        user.session_epoch += 1
        user.save(update_fields=["is_active", "session_epoch", "updated_at"])
    return user


def reset_password(actor, user, *, password, reason=None):
    """An administrator sets a temporary password; the user must change it at next sign-in."""
    require_perm(actor, "accounts.change", user)
    _check_password(password, user)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        user.set_password(password)
        user.must_change_password = True
        user.session_epoch += 1
        user.save(update_fields=["password", "must_change_password", "session_epoch", "updated_at"])
        notify([user], template="accounts/password_reset", context={"user": user}, obj=user)
    return user


def sign_out_everywhere(actor, user, *, reason=None):
    """End every session of ``user`` (their next request is signed out)."""
    if actor.pk != user.pk:
        require_perm(actor, "accounts.change", user)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        user.session_epoch += 1
        user.save(update_fields=["session_epoch", "updated_at"])
    return user


def change_own_password(user, *, old_password, new_password, request=None):
    """The user changes their own password; every other session of theirs ends, this one stays."""
    from qcare.accounts.signals import SESSION_EPOCH_KEY

    if not user.check_password(old_password):
        raise ValidationFailed(
            _("Please correct the errors below."),
            errors={"old_password": [_("Your old password was entered incorrectly.")]},
        )
    _check_password(new_password, user, field="new_password1")
    with transaction.atomic(), audit_context(actor=user):
        user.set_password(new_password)
        user.must_change_password = False
        user.session_epoch += 1
        user.save(update_fields=["password", "must_change_password", "session_epoch", "updated_at"])
    if request is not None:
        from django.contrib.auth import update_session_auth_hash

        update_session_auth_hash(request, user)
        request.session[SESSION_EPOCH_KEY] = user.session_epoch
    return user


def update_profile(user, *, data):
    """The user edits their own name, e-mail, phone and language."""
    _apply(user, data, PROFILE_FIELDS)
    _full_clean(user, exclude=["password"])
    with transaction.atomic(), audit_context(actor=user):
        user.save()
    return user


# --- Departments ------------------------------------------------------------------------


def save_department(actor, department, *, data, reason=None):
    """Create (``department=None``) or change a department."""
    creating = department is None
    require_perm(actor, "accounts.add" if creating else "accounts.change")
    department = department or Department()
    _apply(department, data, DEPARTMENT_FIELDS)
    _full_clean(department)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        department.save()
    return department


def delete_department(actor, department, *, reason=None):
    """Delete a department that no user or record refers to (otherwise deactivate it)."""
    require_perm(actor, "accounts.delete")
    try:
        with transaction.atomic(), audit_context(actor=actor, reason=reason):
            department.delete()
    except ProtectedError:
        raise Conflict(_("This department is still in use; deactivate it instead."))


# --- Roles ------------------------------------------------------------------------------


def save_role(actor, role, *, data, grants=None, reason=None):
    """Create (``role=None``) or change a role; with ``grants``, replace its grant table too."""
    creating = role is None
    require_perm(actor, "accounts.add" if creating else "accounts.change")
    role = role or Role()
    if not creating and role.is_system and "code" in data and data["code"] != role.code:
        raise ValidationFailed(errors={"code": [_("The code of a system role cannot be changed.")]})
    _apply(role, data, ROLE_FIELDS)
    _full_clean(role)
    if grants is not None:
        _validate_grants(role, grants)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        role.save()
        if grants is not None:
            _replace_grants(role, grants)
    return role


def _validate_grants(role, grants):
    errors = []
    for perm, scope in grants.items():
        if not is_registered(perm):
            errors.append(_("Unknown permission: %(perm)s") % {"perm": perm})
        elif scope not in Scope.values:
            errors.append(_("Unknown scope: %(scope)s") % {"scope": scope})
        elif role.code == "auditor" and not perm.endswith(".view"):
            errors.append(_("The auditor role is read-only: %(perm)s is not allowed.") % {"perm": perm})
    if errors:
        raise ValidationFailed(_("Please correct the errors below."), errors={"grants": errors})


def _replace_grants(role, grants):
    current = {g.permission: g for g in role.grants.all()}
    for perm, grant in current.items():
        if perm not in grants:
            grant.delete()
    for perm, scope in grants.items():
        grant = current.get(perm)
        if grant is None:
            RolePermission.objects.create(role=role, permission=perm, scope=scope)
        elif grant.scope != scope:
            grant.scope = scope
            grant.save(update_fields=["scope", "updated_at"])


def set_role_grants(actor, role, *, grants, reason=None):
    """Replace the role's grant table with ``grants`` (``{"module.action": scope}``)."""
    require_perm(actor, "accounts.change")
    _validate_grants(role, grants)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _replace_grants(role, grants)
    return role


def delete_role(actor, role, *, reason=None):
    """Delete a non-system role that no user holds."""
    require_perm(actor, "accounts.delete")
    if role.is_system:
        raise Conflict(_("System roles cannot be deleted."))
    if role.users.exists():
        raise Conflict(_("This role is still held by users."))
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        role.delete()


# --- API tokens -------------------------------------------------------------------------


def create_api_token(actor, user, *, name, expires_at=None):
    """Create a token for ``user`` (oneself, or anyone with accounts.change); returns (token, raw)."""
    if actor.pk != user.pk:
        require_perm(actor, "accounts.change", user)
    name = (name or "").strip()
    if not name:
        raise ValidationFailed(
            _("Please correct the errors below."), errors={"name": [_("This field is required.")]}
        )
    with transaction.atomic(), audit_context(actor=actor):
        return tokens.create_token(user, name, expires_at=expires_at)


def revoke_api_token(actor, token):
    """Revoke a token of one's own, or any token with accounts.change."""
    if actor.pk != token.user_id:
        require_perm(actor, "accounts.change", token)
    return tokens.revoke_token(token, actor=actor)


def tokens_visible_to(actor):
    """Tokens ``actor`` may see on the administrators' token screen."""
    return ApiToken.objects.restrict(actor, "view").select_related("user")
