"""Enumerations of feedback, complaints, CAPA, returns and advisory notices (顾客反馈与投诉, R-CO).

The Chinese labels in the .po files use the seeds' terms (顾客信息反馈单, 客户投诉处理表, 纠正和预防措施,
退货, 折让, 赔款, 忠告性通知 …). Workflows are declared as transition tables (DESIGN rule 2).
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


# --- feedback (R-CO-1) --------------------------------------------------------------------
class Channel(models.TextChoices):
    """How the customer's information reached us."""

    PHONE = "phone", _("Phone")
    LETTER = "letter", _("Letter")
    FAX = "fax", _("Fax")
    EMAIL = "email", _("E-mail")
    VISIT = "visit", _("Visit")
    PORTAL = "portal", _("Customer portal")
    DEALER_REPORT = "dealer_report", _("Dealer report")
    SURVEY_CARD = "survey_card", _("Survey card")
    OTHER = "other", _("Other")


class FeedbackKind(models.TextChoices):
    """What the information is about (顾客信息反馈单: 信息类别)."""

    EXPECTATION_CURRENT = "expectation_current", _("Expectation for current products")
    EXPECTATION_FUTURE = "expectation_future", _("Expectation for future products")
    QUALITY_OPINION = "quality_opinion", _("Opinion on product quality")
    COMMITMENT_OPINION = "commitment_opinion", _("Opinion on our quality commitments")
    SUGGESTION = "suggestion", _("Suggestion")
    PRAISE = "praise", _("Praise")
    CLAIM = "claim", _("Claim")
    INQUIRY = "inquiry", _("Inquiry")


class FeedbackStatus(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    CONVERTED = "converted", _("Converted")
    CLOSED = "closed", _("Closed")


class ConvertedTo(models.TextChoices):
    COMPLAINT = "complaint", _("Complaint")
    CAPA = "capa", _("Corrective action (CAPA)")
    REQUIREMENT = "requirement", _("Customer requirement")


# --- complaints (R-CO-2 … R-CO-5) ---------------------------------------------------------
class ComplaintStatus(models.TextChoices):
    """States of a complaint (see ``COMPLAINT_TRANSITIONS``)."""

    REGISTERED = "registered", _("Registered")
    TRIAGED = "triaged", _("Triaged")
    INVESTIGATION = "investigation", _("Under investigation")
    RESPONSIBILITY = "responsibility", _("Root cause and responsibility")
    AWAITING_APPROVAL = "awaiting_approval", _("Disposition awaiting approval")
    APPROVED = "approved", _("Disposition approved")
    REPLIED = "replied", _("Replied to the customer")
    CLOSED = "closed", _("Closed")
    NOT_SUBSTANTIATED = "not_substantiated", _("Closed: not substantiated")
    REJECTED = "rejected", _("Rejected by the customer (follow-up opened)")


S = ComplaintStatus
#: Allowed transitions (from → set of to). ``services.set_status`` refuses anything else.
COMPLAINT_TRANSITIONS = {
    S.REGISTERED: {S.TRIAGED},
    S.TRIAGED: {S.INVESTIGATION, S.NOT_SUBSTANTIATED},
    S.INVESTIGATION: {S.RESPONSIBILITY, S.NOT_SUBSTANTIATED},
    S.RESPONSIBILITY: {S.AWAITING_APPROVAL, S.INVESTIGATION, S.NOT_SUBSTANTIATED},
    S.AWAITING_APPROVAL: {S.APPROVED, S.RESPONSIBILITY},
    S.APPROVED: {S.REPLIED},
    S.REPLIED: {S.CLOSED, S.REJECTED},
    S.CLOSED: set(),
    S.NOT_SUBSTANTIATED: set(),
    S.REJECTED: set(),
}
#: Statuses of a finished case.
FINAL_STATUSES = (S.CLOSED, S.NOT_SUBSTANTIATED, S.REJECTED)
OPEN_STATUSES = tuple(s for s in ComplaintStatus if s not in FINAL_STATUSES)
#: Statuses in which investigation findings may still be added.
INVESTIGATING_STATUSES = (S.TRIAGED, S.INVESTIGATION, S.RESPONSIBILITY)


class Severity(models.TextChoices):
    MINOR = "minor", _("Minor")
    SERIOUS = "serious", _("Serious")
    MAJOR = "major", _("Major")


class Category(models.TextChoices):
    """Complaint category (R-CO-3)."""

    QUALITY = "quality", _("Quality")
    DELIVERY = "delivery", _("Delivery")
    DOCUMENTS = "documents", _("Documents")
    SERVICE = "service", _("Service")
    BILLING = "billing", _("Billing")
    OTHER = "other", _("Other")


class CauseCategory(models.TextChoices):
    """Root-cause category: the key of repeat detection (R-CO-6) and of the Pareto (R-CO-11)."""

    DESIGN = "design", _("Design")
    MATERIAL = "material", _("Purchased material / supplier")
    PRODUCTION = "production", _("Production process")
    INSPECTION = "inspection", _("Inspection / testing")
    PACKAGING = "packaging", _("Packaging and transport")
    LABELLING = "labelling", _("Labelling and documents")
    HUMAN_ERROR = "human_error", _("Human error")
    CUSTOMER_USE = "customer_use", _("Use by the customer")
    SERVICE = "service", _("Service")
    OTHER = "other", _("Other")


class Demand(models.TextChoices):
    """What the customer asks for (客户要求)."""

    RETURN = "return", _("Return")
    EXCHANGE = "exchange", _("Exchange")
    ALLOWANCE = "allowance", _("Allowance")
    COMPENSATION = "compensation", _("Compensation")
    REPAIR = "repair", _("Repair")
    EXPLANATION = "explanation", _("Explanation")


class Disposition(models.TextChoices):
    """The disposition proposed and approved (处理方案)."""

    REPLACE = "replace", _("Replace units")
    RETURN = "return", _("Return")
    REWORK = "rework", _("Rework")
    ALLOWANCE = "allowance", _("Allowance")
    COMPENSATION = "compensation", _("Compensation")
    NO_FAULT = "no_fault", _("No fault")


class PartyKind(models.TextChoices):
    DEPARTMENT = "department", _("Department")
    PERSON = "person", _("Person")
    SUPPLIER = "supplier", _("Supplier")


class ReplyKind(models.TextChoices):
    FIRST_ANSWER = "first_answer", _("First written answer")
    FINAL = "final", _("Reply with the disposition")
    OTHER = "other", _("Other contact")


class ReplyChannel(models.TextChoices):
    LETTER = "letter", _("Letter")
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")
    FAX = "fax", _("Fax")
    VISIT = "visit", _("Visit")
    PORTAL = "portal", _("Customer portal")


class DeadlineKind(models.TextChoices):
    """The stored deadlines of a complaint (R-CO-4)."""

    FIRST_ANSWER = "first_answer", _("First written answer")
    INVESTIGATION = "investigation", _("Investigation report")
    CLOSE = "close", _("Case closed")


class ReminderStage(models.TextChoices):
    """Steps of the reminder chain of one deadline; each is sent at most once."""

    WARNING = "warning", _("Reminder before the deadline")
    DUE = "due", _("Reminder at the deadline (催办单)")
    MANAGER = "manager", _("Escalation to the owner's manager")
    MANAGEMENT_REP = "management_rep", _("Escalation to the management representative")


# --- reportability (R-CO-9) ---------------------------------------------------------------
class ReportQuestion(models.TextChoices):
    """The questions of the reportability decision (医疗器械不良事件 / vigilance)."""

    DEATH = "death", _("Did the event lead to a death?")
    SERIOUS_INJURY = (
        "serious_injury",
        _("Did it lead to a serious injury or serious deterioration of health?"),
    )
    MALFUNCTION = "malfunction", _("Could the malfunction lead to death or serious injury if it recurred?")
    CLUSTER = "cluster", _("Is it a cluster of events or a serious threat to public health?")
    DEVICE_RELATED = "device_related", _("Is the event possibly related to the device?")


class ReportOutcome(models.TextChoices):
    REPORTABLE = "reportable", _("Reportable")
    NOT_REPORTABLE = "not_reportable", _("Not reportable")


class ReportBasis(models.TextChoices):
    """What makes a reportable event's deadline (policy per basis)."""

    DEATH = "death", _("Death")
    SERIOUS = "serious", _("Serious injury or possible serious injury")
    CLUSTER = "cluster", _("Cluster event")


# --- CAPA (R-CO-6) ------------------------------------------------------------------------
class CapaSource(models.TextChoices):
    COMPLAINT = "complaint", _("Complaint")
    REPEATED_COMPLAINTS = "repeated_complaints", _("Repeated complaints")
    FEEDBACK = "feedback", _("Customer feedback")
    OTHER = "other", _("Other")


class CapaStatus(models.TextChoices):
    OPEN = "open", _("Open")
    IN_PROGRESS = "in_progress", _("Actions in progress")
    VERIFICATION = "verification", _("Awaiting verification")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


CAPA_TRANSITIONS = {
    CapaStatus.OPEN: {CapaStatus.IN_PROGRESS, CapaStatus.CANCELLED},
    CapaStatus.IN_PROGRESS: {CapaStatus.VERIFICATION, CapaStatus.CANCELLED},
    CapaStatus.VERIFICATION: {CapaStatus.CLOSED, CapaStatus.IN_PROGRESS},
    CapaStatus.CLOSED: set(),
    CapaStatus.CANCELLED: set(),
}


class Fishbone(models.TextChoices):
    """The fishbone (鱼骨图 / 5M1E) categories."""

    MAN = "man", _("Man")
    MACHINE = "machine", _("Machine")
    MATERIAL = "material", _("Material")
    METHOD = "method", _("Method")
    MEASUREMENT = "measurement", _("Measurement")
    ENVIRONMENT = "environment", _("Environment")


class ActionKind(models.TextChoices):
    CORRECTION = "correction", _("Correction")
    CORRECTIVE = "corrective", _("Corrective action")
    PREVENTIVE = "preventive", _("Preventive action")


class ActionStatus(models.TextChoices):
    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


# --- returns and settlements (R-CO-7) -----------------------------------------------------
class ReturnStatus(models.TextChoices):
    APPROVED = "approved", _("Approved, awaiting goods")
    RECEIVED = "received", _("Received by the warehouse")
    INSPECTED = "inspected", _("Inspected by quality")
    POSTED = "posted", _("Posted by accounting")
    ESCALATED = "escalated", _("Escalated: quantity differs")
    CANCELLED = "cancelled", _("Cancelled")


RETURN_TRANSITIONS = {
    ReturnStatus.APPROVED: {ReturnStatus.RECEIVED, ReturnStatus.CANCELLED},
    ReturnStatus.RECEIVED: {ReturnStatus.INSPECTED},
    ReturnStatus.INSPECTED: {ReturnStatus.POSTED, ReturnStatus.ESCALATED},
    ReturnStatus.ESCALATED: {ReturnStatus.POSTED, ReturnStatus.CANCELLED},
    ReturnStatus.POSTED: set(),
    ReturnStatus.CANCELLED: set(),
}


class ReturnDisposition(models.TextChoices):
    """What happens to the returned goods."""

    RESTOCK = "restock", _("Back to stock")
    REWORK = "rework", _("Rework")
    SCRAP = "scrap", _("Scrap")
    RETURN_TO_SUPPLIER = "return_to_supplier", _("Return to the supplier")


class SettlementKind(models.TextChoices):
    ALLOWANCE = "allowance", _("Allowance (销货折让)")
    COMPENSATION = "compensation", _("Compensation (赔款)")


class SettlementStatus(models.TextChoices):
    OPEN = "open", _("Awaiting finance")
    SETTLED = "settled", _("Settled")
    CANCELLED = "cancelled", _("Cancelled")


# --- penalties (R-CO-8, optional) ---------------------------------------------------------
class PenaltyKind(models.TextChoices):
    WARNING = "warning", _("Warning")
    DEMERIT = "demerit", _("Demerit")
    BONUS_DEDUCTION = "bonus_deduction", _("Bonus deduction")


# --- advisory notices (R-CO-10) -----------------------------------------------------------
class NoticeKind(models.TextChoices):
    ADVISORY = "advisory", _("Advisory notice")
    RECALL = "recall", _("Recall")


class NoticeStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ISSUED = "issued", pgettext_lazy("notice status", "Issued")
    CLOSED = "closed", _("Closed")
    CANCELLED = "cancelled", _("Cancelled")


class RecipientAction(models.TextChoices):
    """What the customer did with the affected units."""

    RETURNED = "returned", _("Returned")
    CORRECTED = "corrected", _("Corrected on site")
    DESTROYED = "destroyed", _("Destroyed")
    NONE = "none", _("No action (none in stock)")


class Risk(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High (could cause injury or death)")
