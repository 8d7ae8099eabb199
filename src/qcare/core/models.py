"""Abstract base models every QCare model builds on.

* :class:`QModel` — audited by default (opt out with ``audited = False``), timestamps,
  the restricted manager (``Model.objects.restrict(user, action)``), and a snapshot of the
  values loaded from the database so the audit trail can diff without a second query.
* :class:`VersionedModel` — adds ``version`` for optimistic locking: every ``save()`` of an
  existing row is ``UPDATE … WHERE pk = … AND version = <loaded>``; if another writer got
  there first nothing is written and :class:`~qcare.core.errors.StaleVersion` is raised.
"""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from qcare.core.errors import StaleVersion


class Scope(models.TextChoices):
    """How far a permission reaches (P7)."""

    OWN = "own", _("Own records")
    DEPARTMENT = "department", _("Own department")
    ALL = "all", _("All records")


SCOPE_RANK = {Scope.OWN: 1, Scope.DEPARTMENT: 2, Scope.ALL: 3}


class RestrictedQuerySet(models.QuerySet):
    """QuerySet with the one permission filter used by every list, detail, API, export and report."""

    def restrict(self, user, action="view"):
        """Rows of this model that ``user`` may ``action``; empty when the permission is missing.

        The permission is ``<model.permission_module>.<action>``; its scope (own / department /
        all) is the widest one among the user's roles. The model says which field is "own"
        (``scope_owner_field``) and which is "department" (``scope_department_field``), or
        overrides :meth:`QModel.scope_q` for anything else.
        """
        from qcare.accounts.permissions import scope_for

        model = self.model
        if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        module = getattr(model, "permission_module", None)
        if not module:
            raise TypeError(f"{model.__name__} has no permission_module; it cannot be restricted")
        scope = scope_for(user, f"{module}.{action}")
        if scope is None:
            return self.none()
        condition = model.scope_q(user, scope)
        if condition is None:
            return self
        if condition is False:
            return self.none()
        return self.filter(condition)


class RestrictedManager(models.Manager.from_queryset(RestrictedQuerySet)):
    pass


class QModel(models.Model):
    """Base of every QCare model: audited, timestamped, restrictable."""

    created_at = models.DateTimeField(_("created at"), auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True, editable=False)

    objects = RestrictedManager()

    #: Write create/update/delete to the audit trail (opt-out).
    audited = True
    #: Controlled records need a reason for every update and delete (P3).
    controlled = False
    #: Fields a controlled record may change without a reason: workflow state changes are
    #: recorded by their service (transition rows, signatures), not corrections (划改).
    audit_reason_exempt = ("status",)
    #: Fields left out of audit diffs (noise).
    audit_exclude = ("created_at", "updated_at")
    #: Fields whose values never reach the audit trail (only "changed" is recorded).
    audit_mask = ()
    #: Permission module, e.g. "customers" → permissions "customers.view", "customers.change".
    permission_module = None
    #: Field holding the owning user (scope "own") and the owning department (scope "department").
    scope_owner_field = None
    scope_department_field = None

    class Meta:
        abstract = True

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        instance._loaded_values = dict(zip(field_names, values, strict=True))
        return instance

    @classmethod
    def scope_q(cls, user, scope):
        """The filter for ``scope``: a ``Q``, ``None`` (everything) or ``False`` (nothing)."""
        if scope == Scope.ALL:
            return None
        if scope == Scope.DEPARTMENT and cls.scope_department_field:
            if not user.department_id:
                return False
            return models.Q(**{f"{cls.scope_department_field}": user.department_id})
        if cls.scope_owner_field:
            return models.Q(**{cls.scope_owner_field: user.pk})
        return False

    def delete(self, *args, **kwargs):
        if self.audited and self.controlled:
            # Refuse before Django's delete collector opens its own transaction, so that a
            # missing reason leaves the caller's transaction usable.
            from qcare.audit.capture import require_delete_reason

            require_delete_reason(self)
        return super().delete(*args, **kwargs)

    def get_loaded_value(self, attname, default=None):
        return getattr(self, "_loaded_values", {}).get(attname, default)


class VersionedModel(QModel):
    """A QModel with optimistic locking (DESIGN rule 7)."""

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    #: The version a pending UPDATE expects (set only while save() runs).
    _expected_version = None

    class Meta:
        abstract = True

    def check_version(self, expected):
        """Raise StaleVersion if the client's ``expected`` version is not the loaded one."""
        if expected is not None and str(expected) != str(self.version):
            raise StaleVersion()

    def save(self, *args, **kwargs):
        if not self._state.adding and self.pk is not None:
            self._expected_version = self.version
            self.version = self.version + 1
            update_fields = kwargs.get("update_fields")
            if update_fields is not None and "version" not in update_fields:
                kwargs["update_fields"] = [*update_fields, "version"]
        try:
            super().save(*args, **kwargs)
        except Exception:
            # Nothing was written (stale, reason missing, constraint…): keep the loaded version
            # so that a corrected retry of the same instance is not mistaken for a stale one.
            if self._expected_version is not None:
                self.version = self._expected_version
            raise
        finally:
            self._expected_version = None

    def _do_update(self, base_qs, using, pk_val, values, update_fields, forced_update):
        expected = getattr(self, "_expected_version", None)
        if expected is None:
            return super()._do_update(base_qs, using, pk_val, values, update_fields, forced_update)
        updated = base_qs.filter(pk=pk_val, version=expected)._update(values)
        if updated == 0:
            if base_qs.filter(pk=pk_val).exists():
                raise StaleVersion()
            return False
        return True


def get_restricted_or_404(queryset_or_model, user, action="view", **lookup):
    """One object within the user's scope for ``action``; NotFound (404) otherwise."""
    from qcare.core.errors import NotFound

    qs = queryset_or_model
    if isinstance(qs, type) and issubclass(qs, models.Model):
        qs = qs.objects.all()
    try:
        return qs.restrict(user, action).get(**lookup)
    except (qs.model.DoesNotExist, ValueError, TypeError, ValidationError):
        raise NotFound()


from qcare.core.models_mech import *  # noqa: E402,F403  (numbering, policies, signatures)
