"""Services of the sample record: the pattern every domain app follows (DESIGN rule 1).

Each function checks permission and state, works in one transaction with the actor and
reason bound for the audit trail, queues notifications in the outbox, and returns.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.core import signatures
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, ValidationFailed
from qcare.core.numbering import next_number
from qcare.notifications.services import notify
from qcare.sample.models import SampleRecord, SampleStatus

EDITABLE_FIELDS = ("title", "description", "amount", "department")


def _validate(data):
    errors = {}
    title = (data.get("title") or "").strip() if "title" in data else None
    if title is not None and not title:
        errors["title"] = [_("This field is required.")]
    amount = data.get("amount")
    if amount is not None and amount < 0:
        errors["amount"] = [_("The amount cannot be negative.")]
    if errors:
        raise ValidationFailed(_("Please correct the errors below."), errors=errors)


def create_sample(actor, *, title, description="", amount=0, department=None):
    """Create a numbered sample record owned by ``actor``."""
    require_perm(actor, "sample.add")
    _validate({"title": title, "amount": amount})
    with transaction.atomic(), audit_context(actor=actor):
        record = SampleRecord.objects.create(
            number=next_number("sample"),
            title=title.strip(),
            description=description,
            amount=amount,
            owner=actor,
            department=department or actor.department,
        )
        notify([actor], template="sample/created", context={"record": record}, obj=record)
    return record


def update_sample(actor, record, *, data, reason, expected_version=None):
    """Change the editable fields of a controlled record; a reason is required."""
    require_perm(actor, "sample.change", record)
    if record.status == SampleStatus.APPROVED:
        raise Conflict(_("An approved record can no longer be edited."))
    record.check_version(expected_version)
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationFailed(errors={f: [_("This field cannot be changed.")] for f in sorted(unknown)})
    _validate(data)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        for field, value in data.items():
            setattr(record, field, value)
        record.save()
    return record


def delete_sample(actor, record, *, reason):
    """Delete a record that is not approved yet; a reason is required (controlled)."""
    require_perm(actor, "sample.delete", record)
    if record.status == SampleStatus.APPROVED:
        raise Conflict(_("An approved record cannot be deleted."))
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        record.delete()


def approve_sample(actor, record, *, password, comment="", username=None):
    """Approve by e-signature (P4); the signature binds the signed fields' content."""
    require_perm(actor, "sample.approve", record)
    if record.status == SampleStatus.APPROVED:
        raise Conflict(_("This record is already approved."))
    # signing_atomic, not atomic: a wrong password must still be counted and audited
    # although the rest of the transaction rolls back.
    with signatures.signing_atomic(), audit_context(actor=actor):
        signature = signatures.sign(record, actor, password, "approved", comment, username=username)
        record.status = SampleStatus.APPROVED
        record.save(update_fields=["status"])
        notify([record.owner], template="sample/approved", context={"record": record}, obj=record)
    return signature
