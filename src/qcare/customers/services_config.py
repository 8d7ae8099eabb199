"""Services of the classification lists screen (R-CU-1: types, relationship and value classes).

Same pattern as every service (DESIGN rule 1): permission customers.configure, translated
field errors, one transaction with actor and reason bound for the audit trail.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.core.context import audit_context
from qcare.core.errors import ValidationFailed
from qcare.customers.choices import ClassificationKind
from qcare.customers.models import Classification

EDITABLE = ("name", "name_en", "sort_order", "requires_licence", "is_active")


def _validate(data, *, kind=None, code=None):
    errors = {}
    if "name" in data and not (data.get("name") or "").strip():
        errors["name"] = [_("This field is required.")]
    if kind is not None and kind not in ClassificationKind.values:
        errors["kind"] = [_("Choose one of the lists.")]
    if code is not None and Classification.objects.filter(kind=kind, code=code).exists():
        errors["code"] = [_("This code is already used in this list.")]
    if errors:
        raise ValidationFailed(_("Please correct the errors below."), errors=errors)


def add_classification(
    actor, *, kind, code, name, name_en="", sort_order=100, requires_licence=False, reason=""
):
    """Add an entry to one of the classification lists."""
    require_perm(actor, "customers.configure")
    _validate({"name": name}, kind=kind, code=code)
    with transaction.atomic(), audit_context(actor=actor, reason=reason or None):
        return Classification.objects.create(
            kind=kind,
            code=code,
            name=name.strip(),
            name_en=name_en.strip(),
            sort_order=sort_order,
            requires_licence=requires_licence,
        )


def update_classification(actor, entry, *, data, reason, expected_version=None):
    """Rename, reorder, (de)activate an entry; a reason is required (controlled list)."""
    require_perm(actor, "customers.configure")
    entry.check_version(expected_version)
    unknown = set(data) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(errors={f: [_("This field cannot be changed.")] for f in sorted(unknown)})
    _validate(data)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        for field, value in data.items():
            setattr(entry, field, value)
        entry.save()
    return entry


def deactivate_classification(actor, entry, *, reason, expected_version=None):
    """Withdraw an entry from new use; customers that carry it keep it (PROTECT, no delete)."""
    return update_classification(
        actor, entry, data={"is_active": False}, reason=reason, expected_version=expected_version
    )
