"""Helpers of the complaint workflow tests (no tests here): a complaint driven through the
services step by step, the reportability decision, snapshots for "nothing changed".

Import what you need: ``from tests.complaints.test_workflow_support import ...``; import
``english_fixture`` into a test module to read the messages in English.
"""

from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from qcare.audit.models import AuditEntry
from qcare.complaints import services
from qcare.complaints.choices import ReportQuestion
from qcare.complaints.models import Complaint, ComplaintTransition, ReportabilityDecision, ResponsibleParty
from qcare.core.models_mech import Signature
from qcare.notifications.models import Notification
from tests.orders.test_workflow_support import english_fixture  # noqa: F401  (fixture)
from tests.personas import PERSONA_PASSWORD

NO = {question.value: False for question in ReportQuestion}


def inbox(user, template):
    return Notification.objects.filter(recipient=user, channel="inbox", template=f"complaints/{template}")


def audit_of(record):
    """The audit entries of ``record`` (oldest first)."""
    return AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(type(record)), object_pk=str(record.pk)
    ).order_by("seq")


def transitions(complaint):
    return list(
        ComplaintTransition.objects.filter(complaint=complaint)
        .order_by("at", "pk")
        .values_list("from_status", "to_status")
    )


def snapshot(complaint):
    """What must not change when a service refuses."""
    fresh = Complaint.objects.get(pk=complaint.pk)
    parties = list(
        ResponsibleParty.objects.filter(complaint=complaint).order_by("pk").values_list("share", "amount")
    )
    return (
        fresh.version,
        fresh.status,
        parties,
        Signature.objects.count(),
        ComplaintTransition.objects.count(),
        Complaint.objects.count(),
        ReportabilityDecision.objects.count(),
    )


def triage(complaint, quality, *, severity="minor", category="quality", owner=None):
    return services.triage_complaint(
        quality, complaint, severity=severity, category=category, owner=owner or quality
    )


def investigate(complaint, quality, *, departments=("production", "purchasing"), findings=()):
    """Start the investigation asking ``departments``; ``findings``: (user, text) pairs; report."""
    services.start_investigation(quality, complaint, departments=departments)
    for user, text in findings:
        services.add_finding(user, complaint, text=text)
    return services.submit_investigation_report(
        quality, complaint, report="批号 L2609-01 的血氧模块来料不良，装配时未检出。"
    )


def split(*pairs):
    """Party dicts: ("production", 70) → department share; ("supplier:名称", 30) → supplier."""
    parties = []
    for who, share in pairs:
        if who.startswith("supplier:"):
            parties.append({"kind": "supplier", "supplier_name": who.split(":", 1)[1], "share": str(share)})
        else:
            from qcare.accounts.models import Department

            parties.append(
                {"kind": "department", "department": Department.objects.get(code=who), "share": share}
            )
    return parties


def responsibility(complaint, quality, *pairs):
    return services.set_responsibility(
        quality,
        complaint,
        root_cause="血氧模块供应商批次不良，来料检验抽样不足。",
        cause_category="material",
        parties=split(*(pairs or (("production", 70), ("purchasing", 30)))),
    )


def propose(complaint, quality, loss="20000", disposition="allowance"):
    return services.propose_disposition(
        quality, complaint, disposition=disposition, details="按发票金额给予折让", loss_amount=Decimal(loss)
    )


def decide_not_reportable(complaint, quality):
    return services.decide_reportability(
        quality,
        complaint,
        answers=NO,
        outcome="not_reportable",
        rationale="未造成伤害，读数不稳不会导致严重伤害。",
        password=PERSONA_PASSWORD,
    )


def reply(complaint, user, kind="final", text="经调查确认为来料不良，给予折让 20,000 元。"):
    return services.record_reply(
        user, complaint, kind=kind, channel="letter", replied_on=timezone.localdate(), text=text
    )


def drive_to_replied(complaint, quality, approver, *, loss="20000"):
    """Triage → investigation → responsibility → disposition → approval → final reply."""
    triage(complaint, quality)
    investigate(complaint, quality)
    responsibility(complaint, quality)
    propose(complaint, quality, loss=loss)
    services.approve_disposition(approver, complaint, password=PERSONA_PASSWORD)
    reply(complaint, quality)
    complaint.refresh_from_db()
    return complaint
