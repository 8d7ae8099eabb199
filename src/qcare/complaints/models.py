"""Customer feedback and complaints (顾客反馈与投诉, SPEC R-CO-1…11).

* :class:`Feedback` ``FK-…`` — the feedback register (顾客信息反馈单): any information from a
  customer, answered or converted into a complaint, a CAPA or a requirement (R-CO-1).
* :class:`Complaint` ``KS-YYMM-NNN`` — a complaint (客户投诉处理表) and its workflow (R-CO-2/3):
  transitions, deadlines with a reminder chain (:class:`ComplaintDeadline`, R-CO-4),
  investigation findings, responsibility shares, the disposition signed by the approver of
  its loss band, replies to the customer, the customer's answer, a follow-up when rejected,
  and the reportability decision for regulated products (:class:`ReportabilityDecision`, R-CO-9).
* :class:`Capa` ``CA-…`` with :class:`CapaAction` rows (R-CO-6).
* :class:`ReturnNote` ``TH-…`` and :class:`Settlement` (allowance 折让 / compensation 赔款) (R-CO-7).
* :class:`ResponsibilityReport` (monthly, R-CO-8) and :class:`Penalty` (optional, R-CO-8).
* :class:`AdvisoryNotice` ``AN-…`` with :class:`NoticeItem` (affected lots/serials) and
  :class:`NoticeRecipient` (one per affected customer, from shipment traceability) (R-CO-10).

Scope (P7): quality, the management representative, GM and auditors see everything; a
department sees the complaints it registered, was asked to investigate or is responsible
for; a clerk sees those they registered, own, or whose customer they own; a portal user
sees their company's.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from qcare.complaints.choices import (
    ActionKind,
    ActionStatus,
    CapaSource,
    CapaStatus,
    Category,
    CauseCategory,
    Channel,
    ComplaintStatus,
    ConvertedTo,
    DeadlineKind,
    Disposition,
    FeedbackKind,
    FeedbackStatus,
    NoticeKind,
    NoticeStatus,
    PartyKind,
    PenaltyKind,
    RecipientAction,
    ReplyChannel,
    ReplyKind,
    ReportBasis,
    ReportOutcome,
    ReturnDisposition,
    ReturnStatus,
    Risk,
    SettlementKind,
    SettlementStatus,
    Severity,
)
from qcare.core.models import QModel, Scope, VersionedModel

MONEY = {"max_digits": 18, "decimal_places": 2}
QUANTITY = {"max_digits": 14, "decimal_places": 3}
USER = settings.AUTH_USER_MODEL


def _portal_customer_id(user):
    from qcare.customers.models import _portal_customer_id as customer_of

    return customer_of(user)


def _user_fk(verbose, *, null=True):
    return models.ForeignKey(
        USER, verbose_name=verbose, null=null, blank=null, on_delete=models.PROTECT, related_name="+"
    )


def period_of(moment):
    """``YYYY-MM`` of ``moment`` in the company's time zone (the stored period columns)."""
    return timezone.localtime(moment).strftime("%Y-%m")


# --- feedback (R-CO-1) ----------------------------------------------------------------------
class Feedback(VersionedModel):
    """An entry of the feedback register (顾客信息反馈单/顾客信息登记表, R-CO-1).

    The first answer is due ``feedback.first_answer`` (8 working hours) after receipt;
    ``remind_at``/``escalate_at`` drive the reminder job (claimed by ``reminded_at``/``escalated_at``).
    """

    number = models.CharField(_("feedback number"), max_length=30, unique=True, editable=False)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    kind = models.CharField(_("kind of information"), max_length=30, choices=FeedbackKind.choices)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    customer_name = models.CharField(
        _("customer name"), max_length=200, blank=True, help_text=_("When the customer is not in the file.")
    )
    contact = models.ForeignKey(
        "customers.Contact",
        verbose_name=_("customer contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    subject = models.CharField(_("subject"), max_length=200)
    content = models.TextField(_("content"))
    recorded_by = _user_fk(_("recorded by"), null=False)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    owner = _user_fk(_("handled by"))
    status = models.CharField(
        _("status"), max_length=20, choices=FeedbackStatus.choices, default=FeedbackStatus.OPEN
    )
    due_at = models.DateTimeField(_("first answer due"), null=True, blank=True)
    remind_at = models.DateTimeField(_("reminder at"), null=True, blank=True)
    escalate_at = models.DateTimeField(_("escalation at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True, editable=False)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True, editable=False)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    answered_by = _user_fk(_("answered by"))
    answer_channel = models.CharField(
        _("answered by (channel)"), max_length=20, choices=ReplyChannel.choices, blank=True
    )
    answer = models.TextField(_("answer"), blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = _user_fk(_("closed by"))
    close_reason = models.TextField(_("reason for closing"), blank=True)
    converted_to = models.CharField(_("converted to"), max_length=20, choices=ConvertedTo.choices, blank=True)
    converted_to_id = models.PositiveBigIntegerField(
        _("converted to record"), null=True, blank=True, editable=False
    )
    converted_to_number = models.CharField(
        _("converted to number"), max_length=30, blank=True, editable=False
    )
    communication = models.ForeignKey(
        "customers.Communication",
        verbose_name=_("from the communication log"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    permission_module = "feedback"
    scope_owner_field = "recorded_by"
    scope_department_field = "department"

    class Meta:
        verbose_name = _("customer feedback")
        verbose_name_plural = _("feedback register")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="fb_status_received"),
            models.Index(fields=["customer", "-received_at"], name="fb_customer_received"),
            models.Index(fields=["status", "remind_at"], name="fb_status_remind"),
            models.Index(fields=["status", "escalate_at"], name="fb_status_escalate"),
        ]

    def __str__(self):
        return f"{self.number} {self.subject}"

    def get_absolute_url(self):
        return reverse("complaints:feedback_detail", args=[self.pk])

    @classmethod
    def scope_q(cls, user, scope):
        portal_customer = _portal_customer_id(user)
        if portal_customer is not None:
            return models.Q(customer_id=portal_customer)
        if scope == Scope.ALL:
            return None
        own = models.Q(recorded_by_id=user.pk) | models.Q(owner_id=user.pk)
        if scope == Scope.DEPARTMENT:
            return own | models.Q(department_id=user.department_id) if user.department_id else own
        return own


# --- complaints (R-CO-2 … R-CO-5, R-CO-8, R-CO-9) ---------------------------------------------
class ComplaintScoped:
    """Scope rule of the complaint and its child records (``complaint_path`` = "" or "complaint__")."""

    complaint_path = "complaint__"

    @classmethod
    def scope_q(cls, user, scope):
        prefix = cls.complaint_path
        portal_customer = _portal_customer_id(user)
        if portal_customer is not None:
            return models.Q(**{f"{prefix}customer_id": portal_customer})
        if scope == Scope.ALL:
            return None
        own = (
            models.Q(**{f"{prefix}owner_id": user.pk})
            | models.Q(**{f"{prefix}registered_by_id": user.pk})
            | models.Q(**{f"{prefix}customer__owner_id": user.pk})
        )
        if scope == Scope.DEPARTMENT and user.department_id:
            dept = user.department_id
            # A department sees what it registered and every complaint it was given to work on.
            involved = (
                ComplaintFinding.objects.filter(department_id=dept).values("complaint_id"),
                ResponsibleParty.objects.filter(department_id=dept).values("complaint_id"),
            )
            condition = own | models.Q(**{f"{prefix}department_id": dept})
            for ids in involved:
                condition |= models.Q(**{f"{prefix}pk__in": ids})
            return condition
        return own


class Complaint(ComplaintScoped, VersionedModel):
    """A customer complaint (客户投诉/抱怨处理表, R-CO-2) and its case file.

    Status per ``choices.COMPLAINT_TRANSITIONS``; each change writes a :class:`ComplaintTransition`.
    ``period`` (YYYY-MM of ``received_at``) and ``closed_period`` are stored so monthly statistics
    group on a plain column on both databases (DESIGN: TruncMonth on SQLite is 6× slower).
    ``search_text`` is the lowercase text the search index covers (number, customer, product,
    lot/serial, description).
    """

    complaint_path = ""

    number = models.CharField(_("complaint number"), max_length=30, unique=True, editable=False)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    contact = models.ForeignKey(
        "customers.Contact",
        verbose_name=_("customer contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    contact_phone = models.CharField(_("contact phone"), max_length=50, blank=True)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices)
    received_at = models.DateTimeField(_("received at"), default=timezone.now)
    is_foreign = models.BooleanField(_("foreign customer"), default=False, editable=False)
    order = models.ForeignKey(
        "orders.Order",
        verbose_name=_("order / contract"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    order_reference = models.CharField(_("order / contract number"), max_length=100, blank=True)
    shipment_line = models.ForeignKey(
        "orders.ShipmentLine",
        verbose_name=_("shipment"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    part_number = models.CharField(_("product / part number"), max_length=100, blank=True)
    lot_number = models.CharField(_("lot number"), max_length=60, blank=True)
    serial_number = models.CharField(_("serial number"), max_length=80, blank=True)
    shipped_on = models.DateField(_("shipping date"), null=True, blank=True)
    quantity = models.DecimalField(_("quantity delivered"), null=True, blank=True, **QUANTITY)
    defective_quantity = models.DecimalField(_("defective quantity"), null=True, blank=True, **QUANTITY)
    quantity_pending = models.BooleanField(
        _("quantity not yet known"), default=False, help_text=_("The customer is still processing the goods.")
    )
    description = models.TextField(_("description of the problem"))
    demands = models.JSONField(_("customer's demand"), default=list, blank=True)
    demand_details = models.TextField(_("details of the demand"), blank=True)
    claimed_amount = models.DecimalField(_("amount claimed"), null=True, blank=True, **MONEY)
    registered_by = _user_fk(_("registered by"), null=False)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("registering department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    feedback = models.ForeignKey(
        Feedback,
        verbose_name=_("from feedback"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    parent = models.ForeignKey(
        "self",
        verbose_name=_("follow-up of"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="follow_ups",
    )
    status = models.CharField(
        _("status"), max_length=20, choices=ComplaintStatus.choices, default=ComplaintStatus.REGISTERED
    )
    # triage
    severity = models.CharField(_("severity"), max_length=20, choices=Severity.choices, blank=True)
    category = models.CharField(_("category"), max_length=20, choices=Category.choices, blank=True)
    human_error = models.BooleanField(_("human error"), default=False)
    owner = _user_fk(_("owner (quality)"))
    is_major = models.BooleanField(_("major complaint"), default=False)
    major_reasons = models.JSONField(_("why it is major"), default=list, blank=True, editable=False)
    is_regulated = models.BooleanField(_("regulated product"), default=False, editable=False)
    # investigation, root cause, responsibility
    investigation_report = models.TextField(_("investigation report"), blank=True)
    investigation_reported_at = models.DateTimeField(_("investigation reported at"), null=True, blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    cause_category = models.CharField(
        _("cause category"), max_length=20, choices=CauseCategory.choices, blank=True
    )
    is_repeat = models.BooleanField(_("repeated complaint"), default=False)
    capa = models.ForeignKey(
        "Capa",
        verbose_name=_("CAPA"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="complaints",
    )
    # disposition and approval
    disposition = models.CharField(_("disposition"), max_length=20, choices=Disposition.choices, blank=True)
    disposition_details = models.TextField(_("disposition details"), blank=True)
    disposition_quantity = models.DecimalField(_("quantity concerned"), null=True, blank=True, **QUANTITY)
    loss_amount = models.DecimalField(_("loss amount (CNY)"), default=Decimal("0"), **MONEY)
    approval_band = models.CharField(_("approval band"), max_length=20, blank=True, editable=False)
    proposed_by = _user_fk(_("proposed by"))
    proposed_at = models.DateTimeField(_("proposed at"), null=True, blank=True)
    approved_by = _user_fk(_("approved by"))
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    approval_comment = models.TextField(_("approval comment / rejection reason"), blank=True)
    approval_signature = models.ForeignKey(
        "core.Signature",
        verbose_name=_("approval signature"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # reply and the customer's answer
    first_answer_at = models.DateTimeField(_("first answer at"), null=True, blank=True)
    replied_at = models.DateTimeField(_("replied at"), null=True, blank=True)
    customer_accepted = models.BooleanField(_("accepted by the customer"), null=True, blank=True)
    customer_response = models.TextField(_("customer's response"), blank=True)
    customer_response_at = models.DateTimeField(_("customer responded at"), null=True, blank=True)
    # closure and timeliness
    due_at = models.DateTimeField(_("close by"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = _user_fk(_("closed by"))
    close_reason = models.TextField(_("reason (not substantiated)"), blank=True)
    overdue_reason = models.TextField(_("reason for the delay"), blank=True)
    closed_on_time = models.BooleanField(_("closed on time"), null=True, blank=True)
    days_to_close = models.PositiveIntegerField(_("days to close"), null=True, blank=True)
    period = models.CharField(_("month received"), max_length=7, editable=False, db_index=False)
    closed_period = models.CharField(_("month closed"), max_length=7, blank=True, editable=False)
    search_text = models.TextField(_("search text"), blank=True, editable=False)

    controlled = True
    permission_module = "complaints"
    audit_reason_exempt = ("status",)
    audit_exclude = ("created_at", "updated_at", "search_text")

    class Meta:
        verbose_name = _("complaint")
        verbose_name_plural = _("complaints")
        ordering = ["-received_at", "-id"]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="ks_status_received"),
            models.Index(fields=["customer", "-received_at"], name="ks_customer_received"),
            models.Index(fields=["owner", "status", "due_at"], name="ks_owner_status_due"),
            models.Index(fields=["status", "due_at"], name="ks_status_due"),
            models.Index(fields=["period", "status"], name="ks_period_status"),
            models.Index(fields=["closed_period"], name="ks_closed_period"),
            models.Index(fields=["product", "cause_category", "received_at"], name="ks_repeat_key"),
            models.Index(fields=["lot_number"], name="ks_lot"),
        ]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("complaints:complaint_detail", args=[self.pk])

    def signature_content(self):
        """What the approver signs: the case as proposed — responsibility, disposition, amounts."""
        return {
            "complaint": self.number,
            "customer": self.customer_id,
            "description": self.description,
            "root_cause": self.root_cause,
            "cause_category": self.cause_category,
            "responsibility": [
                [p.kind, p.department_id, p.person_id, p.supplier_name, str(p.share)]
                for p in self.responsible_parties.order_by("pk")
            ],
            "disposition": self.disposition,
            "disposition_details": self.disposition_details,
            "disposition_quantity": None
            if self.disposition_quantity is None
            else str(self.disposition_quantity),
            "loss_amount": str(self.loss_amount),
        }

    @property
    def is_open(self):
        from qcare.complaints.choices import FINAL_STATUSES

        return self.status not in FINAL_STATUSES


class ComplaintTransition(ComplaintScoped, QModel):
    """One status change of a complaint (DESIGN rule 2)."""

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE, related_name="transitions"
    )
    from_status = models.CharField(_("from"), max_length=20, choices=ComplaintStatus.choices, blank=True)
    to_status = models.CharField(_("to"), max_length=20, choices=ComplaintStatus.choices)
    actor = _user_fk(_("by"))
    at = models.DateTimeField(_("at"), default=timezone.now)
    reason = models.TextField(_("reason"), blank=True)

    permission_module = "complaints"

    class Meta:
        verbose_name = _("complaint status change")
        verbose_name_plural = _("complaint status changes")
        ordering = ["at", "id"]


class ComplaintDeadline(ComplaintScoped, QModel):
    """A stored deadline of a complaint with its reminder chain (R-CO-4, DESIGN rule 3).

    Times of each stage are stored (``warn_at`` before the deadline, ``due_at``, ``escalate_at``
    to the owner's manager, ``escalate2_at`` to the management representative); the job claims a
    stage by setting its ``*_sent_at`` column with a conditional UPDATE, so no stage is ever sent
    twice. ``met_at`` is set when the step is done (first answer recorded, investigation report
    written, case closed); ``was_late`` says whether that was after ``due_at``.
    """

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE, related_name="deadlines"
    )
    kind = models.CharField(_("deadline"), max_length=20, choices=DeadlineKind.choices)
    due_at = models.DateTimeField(_("due"))
    warn_at = models.DateTimeField(_("reminder before the deadline at"), null=True, blank=True)
    escalate_at = models.DateTimeField(_("escalation to the manager at"), null=True, blank=True)
    escalate2_at = models.DateTimeField(
        _("escalation to the management representative at"), null=True, blank=True
    )
    warned_at = models.DateTimeField(_("reminded before the deadline at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated to the manager at"), null=True, blank=True)
    escalated2_at = models.DateTimeField(
        _("escalated to the management representative at"), null=True, blank=True
    )
    met_at = models.DateTimeField(_("met at"), null=True, blank=True)
    was_late = models.BooleanField(_("late"), null=True, blank=True)

    audited = False  # derived bookkeeping of the reminder job; the complaint's own changes are audited
    permission_module = "complaints"

    class Meta:
        verbose_name = _("complaint deadline")
        verbose_name_plural = _("complaint deadlines")
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["complaint", "kind"], name="uniq_complaint_deadline")]
        indexes = [
            # Partial: only the stages still to send, so the idle scan reads nothing (decision 5000).
            models.Index(
                fields=["warn_at"],
                name="ksd_warn_pending",
                condition=models.Q(met_at__isnull=True, warned_at__isnull=True),
            ),
            models.Index(
                fields=["due_at"],
                name="ksd_due_pending",
                condition=models.Q(met_at__isnull=True, reminded_at__isnull=True),
            ),
            models.Index(
                fields=["escalate_at"],
                name="ksd_esc_pending",
                condition=models.Q(met_at__isnull=True, escalated_at__isnull=True),
            ),
            models.Index(
                fields=["escalate2_at"],
                name="ksd_esc2_pending",
                condition=models.Q(met_at__isnull=True, escalated2_at__isnull=True),
            ),
        ]


class ComplaintFinding(ComplaintScoped, VersionedModel):
    """A department's contribution to the investigation (production, R&D, purchasing …).

    A finding may be *requested* from a department (``requested_by``/``requested_at``, text empty
    until it answers); the department then sees the complaint (department scope).
    """

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE, related_name="findings"
    )
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("department"), on_delete=models.PROTECT, related_name="+"
    )
    requested_by = _user_fk(_("requested by"))
    requested_at = models.DateTimeField(_("requested at"), null=True, blank=True)
    text = models.TextField(_("findings"), blank=True)
    author = _user_fk(_("written by"))
    written_at = models.DateTimeField(_("written at"), null=True, blank=True)

    permission_module = "complaints"

    class Meta:
        verbose_name = _("investigation finding")
        verbose_name_plural = _("investigation findings")
        ordering = ["id"]


class ResponsibleParty(ComplaintScoped, QModel):
    """A responsible department, person or supplier with its share (R-CO-3/8); shares sum to 100 %."""

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE, related_name="responsible_parties"
    )
    kind = models.CharField(_("responsible"), max_length=20, choices=PartyKind.choices)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    person = _user_fk(_("person"))
    supplier_name = models.CharField(_("supplier"), max_length=200, blank=True)
    share = models.DecimalField(_("share (%)"), max_digits=5, decimal_places=2)
    amount = models.DecimalField(_("allocated loss (CNY)"), default=Decimal("0"), **MONEY)
    #: Month the case closed (copied at closing) so the monthly report groups on a column.
    closed_period = models.CharField(_("month closed"), max_length=7, blank=True, editable=False)

    permission_module = "complaints"

    class Meta:
        verbose_name = _("responsibility share")
        verbose_name_plural = _("responsibility shares")
        ordering = ["-share", "id"]
        indexes = [models.Index(fields=["closed_period", "department"], name="ksr_period_dept")]

    def __str__(self):
        who = self.department or self.person or self.supplier_name
        return f"{who} {self.share}%"


class ComplaintReply(ComplaintScoped, QModel):
    """A reply to the customer (by letter, phone …; the internal form itself is never sent)."""

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE, related_name="replies"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=ReplyKind.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=ReplyChannel.choices)
    replied_on = models.DateField(_("date"))
    text = models.TextField(_("text of the reply"))
    recorded_by = _user_fk(_("recorded by"), null=False)
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    permission_module = "complaints"

    class Meta:
        verbose_name = _("reply to the customer")
        verbose_name_plural = _("replies to the customer")
        ordering = ["recorded_at", "id"]


class ReportabilityDecision(ComplaintScoped, VersionedModel):
    """The documented reportability decision of a complaint on a regulated product (R-CO-9), signed."""

    complaint = models.OneToOneField(
        Complaint, verbose_name=_("complaint"), on_delete=models.CASCADE, related_name="reportability"
    )
    answers = models.JSONField(_("answers"), default=dict)
    outcome = models.CharField(_("decision"), max_length=20, choices=ReportOutcome.choices)
    basis = models.CharField(_("basis"), max_length=20, choices=ReportBasis.choices, blank=True)
    rationale = models.TextField(_("rationale"))
    authority = models.CharField(_("authority"), max_length=200, blank=True)
    report_due_at = models.DateTimeField(_("report due"), null=True, blank=True)
    report_reminded_at = models.DateTimeField(
        _("report reminder sent at"), null=True, blank=True, editable=False
    )
    report_sent_at = models.DateTimeField(_("report sent at"), null=True, blank=True)
    report_reference = models.CharField(_("report reference"), max_length=100, blank=True)
    report_recorded_by = _user_fk(_("report recorded by"))
    decided_by = _user_fk(_("decided by"), null=False)
    decided_at = models.DateTimeField(_("decided at"), default=timezone.now)
    signature = models.ForeignKey(
        "core.Signature",
        verbose_name=_("signature"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    controlled = True
    permission_module = "complaints"
    signed_fields = ("complaint", "answers", "outcome", "basis", "rationale", "authority", "report_due_at")
    audit_reason_exempt = ("status", "signature", "report_reminded_at")

    class Meta:
        verbose_name = _("reportability decision")
        verbose_name_plural = _("reportability decisions")
        indexes = [models.Index(fields=["outcome", "report_sent_at", "report_due_at"], name="ksr_report_due")]


# --- CAPA (R-CO-6) ----------------------------------------------------------------------------
class Capa(VersionedModel):
    """A corrective and preventive action (纠正和预防措施, R-CO-6)."""

    number = models.CharField(_("CAPA number"), max_length=30, unique=True, editable=False)
    source = models.CharField(_("source"), max_length=30, choices=CapaSource.choices)
    feedback = models.ForeignKey(
        Feedback,
        verbose_name=_("from feedback"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    title = models.CharField(_("title"), max_length=200)
    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    cause_category = models.CharField(
        _("cause category"), max_length=20, choices=CauseCategory.choices, blank=True
    )
    problem = models.TextField(_("problem description"))
    containment = models.TextField(_("containment"), blank=True)
    why_analysis = models.JSONField(_("5-why analysis"), default=list, blank=True)
    fishbone = models.JSONField(_("fishbone analysis"), default=dict, blank=True)
    root_cause = models.TextField(_("root cause"), blank=True)
    owner = _user_fk(_("owner"), null=False)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    status = models.CharField(_("status"), max_length=20, choices=CapaStatus.choices, default=CapaStatus.OPEN)
    opened_by = _user_fk(_("opened by"), null=False)
    opened_at = models.DateTimeField(_("opened at"), default=timezone.now)
    due_on = models.DateField(_("target date"), null=True, blank=True)
    verification = models.TextField(_("verification of effectiveness"), blank=True)
    is_effective = models.BooleanField(_("effective"), null=True, blank=True)
    verified_by = _user_fk(_("verified by"))
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    verification_signature = models.ForeignKey(
        "core.Signature",
        verbose_name=_("verification signature"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    cancel_reason = models.TextField(_("reason for cancelling"), blank=True)

    controlled = True
    permission_module = "capa"
    scope_owner_field = "owner"
    scope_department_field = "department"

    class Meta:
        verbose_name = _("CAPA")
        verbose_name_plural = _("CAPAs")
        ordering = ["-opened_at", "-id"]
        indexes = [models.Index(fields=["status", "-opened_at"], name="capa_status_opened")]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("complaints:capa_detail", args=[self.pk])

    def signature_content(self):
        """Quality's verification signs the analysis, the actions and their results, and the verdict."""
        return {
            "capa": self.number,
            "problem": self.problem,
            "containment": self.containment,
            "root_cause": self.root_cause,
            "cause_category": self.cause_category,
            "why_analysis": self.why_analysis,
            "fishbone": self.fishbone,
            "actions": [
                [a.description, a.owner_id, str(a.due_on), a.status, a.result]
                for a in self.actions.order_by("pk")
            ],
            "verification": self.verification,
            "is_effective": self.is_effective,
        }

    @classmethod
    def scope_q(cls, user, scope):
        if scope == Scope.ALL:
            return None
        own = models.Q(owner_id=user.pk) | models.Q(
            pk__in=CapaAction.objects.filter(owner_id=user.pk).values("capa_id")
        )
        if scope == Scope.DEPARTMENT and user.department_id:
            return own | models.Q(department_id=user.department_id)
        return own


class CapaAction(VersionedModel):
    """One action of a CAPA with its owner and due date (reminded when due)."""

    capa = models.ForeignKey(Capa, verbose_name=_("CAPA"), on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(
        _("kind"), max_length=20, choices=ActionKind.choices, default=ActionKind.CORRECTIVE
    )
    description = models.TextField(_("action"))
    owner = _user_fk(_("owner"), null=False)
    due_on = models.DateField(_("due date"))
    status = models.CharField(
        _("status"), max_length=20, choices=ActionStatus.choices, default=ActionStatus.OPEN
    )
    result = models.TextField(_("result"), blank=True)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    remind_at = models.DateTimeField(_("reminder at"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("reminded at"), null=True, blank=True, editable=False)
    escalate_at = models.DateTimeField(_("escalation at"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated at"), null=True, blank=True, editable=False)

    permission_module = "capa"

    class Meta:
        verbose_name = _("CAPA action")
        verbose_name_plural = _("CAPA actions")
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["status", "remind_at"], name="capa_action_remind"),
            models.Index(fields=["status", "escalate_at"], name="capa_action_escalate"),
            models.Index(fields=["owner", "status", "due_on"], name="capa_action_owner"),
        ]

    @classmethod
    def scope_q(cls, user, scope):
        if scope == Scope.ALL:
            return None
        capas = Capa.scope_q(user, scope)
        return models.Q(owner_id=user.pk) | models.Q(capa__in=Capa.objects.filter(capas))


# --- returns and settlements (R-CO-7) ----------------------------------------------------------
class ReturnNote(ComplaintScoped, VersionedModel):
    """A return note (退货单 ``TH-…``) from an approved disposition (R-CO-7).

    The warehouse records and signs the quantity received; quality inspects and writes the
    quality abnormality report (品质异常处理报告); accounting posts it only when the received
    quantity equals the approved one within the tolerance, otherwise it is escalated.
    """

    number = models.CharField(_("return number"), max_length=30, unique=True, editable=False)
    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.PROTECT, related_name="returns"
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    product = models.ForeignKey(
        "catalog.Product",
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    lot_number = models.CharField(_("lot number"), max_length=60, blank=True)
    approved_quantity = models.DecimalField(_("approved quantity"), **QUANTITY)
    reason = models.TextField(_("reason for the return"))
    disposition = models.CharField(
        _("disposition of the goods"), max_length=30, choices=ReturnDisposition.choices
    )
    basis = models.TextField(_("basis"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=ReturnStatus.choices, default=ReturnStatus.APPROVED
    )
    created_by = _user_fk(_("issued by"), null=False)
    received_quantity = models.DecimalField(_("received quantity"), null=True, blank=True, **QUANTITY)
    received_by = _user_fk(_("received by"))
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    receipt_signature = models.ForeignKey(
        "core.Signature",
        verbose_name=_("receipt signature"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    inspection_report = models.TextField(_("quality abnormality report"), blank=True)
    inspected_by = _user_fk(_("inspected by"))
    inspected_at = models.DateTimeField(_("inspected at"), null=True, blank=True)
    tolerance_percent = models.DecimalField(
        _("tolerance (%)"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    escalation_reason = models.TextField(_("escalation"), blank=True)
    posted_by = _user_fk(_("posted by"))
    posted_at = models.DateTimeField(_("posted at"), null=True, blank=True)
    post_comment = models.TextField(_("posting comment"), blank=True)

    controlled = True
    audit_reason_exempt = ("status", "receipt_signature")
    permission_module = "returns"
    signed_fields = ("number", "approved_quantity", "received_quantity")

    class Meta:
        verbose_name = _("return note")
        verbose_name_plural = _("return notes")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"], name="th_status_created")]

    def __str__(self):
        return self.number

    def get_absolute_url(self):
        return reverse("complaints:return_detail", args=[self.pk])


class Settlement(ComplaintScoped, VersionedModel):
    """An allowance (销货折让证明单) or compensation (赔款) for finance, from an approved disposition."""

    complaint = models.ForeignKey(
        Complaint, verbose_name=_("complaint"), on_delete=models.PROTECT, related_name="settlements"
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=SettlementKind.choices)
    amount = models.DecimalField(_("amount"), **MONEY)
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    description = models.TextField(_("description"), blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=SettlementStatus.choices, default=SettlementStatus.OPEN
    )
    created_by = _user_fk(_("recorded by"), null=False)
    settled_by = _user_fk(_("settled by"))
    settled_at = models.DateTimeField(_("settled at"), null=True, blank=True)
    finance_reference = models.CharField(
        _("finance reference (voucher / credit note)"), max_length=100, blank=True
    )

    controlled = True
    permission_module = "returns"

    class Meta:
        verbose_name = _("allowance / compensation")
        verbose_name_plural = _("allowances and compensations")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "-created_at"], name="settle_status_created")]


# --- monthly responsibility report and penalties (R-CO-8) --------------------------------------
class ResponsibilityReport(VersionedModel):
    """The monthly responsibility report (责任报告) for ``period`` (YYYY-MM), generated on the 1st."""

    period = models.CharField(_("month"), max_length=7, unique=True)
    generated_at = models.DateTimeField(_("generated at"), default=timezone.now)
    due_on = models.DateField(_("due to the management representative on"))
    data = models.JSONField(_("content"), default=dict)
    delivered_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    acknowledged_by = _user_fk(_("received by"))
    acknowledged_at = models.DateTimeField(_("received at"), null=True, blank=True)

    permission_module = "complaints"

    class Meta:
        verbose_name = _("monthly responsibility report")
        verbose_name_plural = _("monthly responsibility reports")
        ordering = ["-period"]

    @classmethod
    def scope_q(cls, user, scope):
        return None


class Penalty(VersionedModel):
    """A penalty from a complaint (optional feature, policy ``complaints.penalties_enabled``).

    Bonus deductions are applied month by month: at most ``complaints.penalty_cap`` % of the
    person's monthly bonus; the rest carries over (``PenaltyInstalment`` rows).
    """

    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("complaint"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    person = _user_fk(_("person"), null=False)
    kind = models.CharField(_("kind"), max_length=20, choices=PenaltyKind.choices)
    amount = models.DecimalField(_("deduction amount"), default=Decimal("0"), **MONEY)
    monthly_bonus = models.DecimalField(_("monthly bonus"), null=True, blank=True, **MONEY)
    start_period = models.CharField(_("first month"), max_length=7)
    reason = models.TextField(_("reason"))
    recorded_by = _user_fk(_("recorded by"), null=False)

    controlled = True
    permission_module = "penalties"

    class Meta:
        verbose_name = _("penalty")
        verbose_name_plural = _("penalties")
        ordering = ["-created_at", "-id"]

    @classmethod
    def scope_q(cls, user, scope):
        return None if scope == Scope.ALL else models.Q(person_id=user.pk)


class PenaltyInstalment(QModel):
    """The part of a bonus deduction applied in one month (capped; the rest carried over)."""

    penalty = models.ForeignKey(
        Penalty, verbose_name=_("penalty"), on_delete=models.CASCADE, related_name="instalments"
    )
    period = models.CharField(_("month"), max_length=7)
    amount = models.DecimalField(_("deducted"), **MONEY)
    carried_over = models.DecimalField(_("carried over"), **MONEY)

    permission_module = "penalties"

    class Meta:
        verbose_name = _("penalty instalment")
        verbose_name_plural = _("penalty instalments")
        ordering = ["period", "id"]
        constraints = [models.UniqueConstraint(fields=["penalty", "period"], name="uniq_penalty_period")]

    @classmethod
    def scope_q(cls, user, scope):
        return None if scope == Scope.ALL else models.Q(penalty__person_id=user.pk)


# --- advisory notices and recalls (R-CO-10) ----------------------------------------------------
class AdvisoryNotice(VersionedModel):
    """An advisory notice or recall (忠告性通知/召回 ``AN-…``), issued and signed by the management
    representative (R-CO-10). Affected units are :class:`NoticeItem` rows; issuing builds one
    :class:`NoticeRecipient` per customer who received them (shipment traceability, R-OR-11)."""

    number = models.CharField(_("notice number"), max_length=30, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=20, choices=NoticeKind.choices, default=NoticeKind.ADVISORY)
    title = models.CharField(_("title"), max_length=200)
    reason = models.TextField(_("reason"))
    risk = models.CharField(_("risk"), max_length=20, choices=Risk.choices)
    risk_description = models.TextField(_("risk assessment"), blank=True)
    action_required = models.TextField(_("action required of customers"))
    complaint = models.ForeignKey(
        Complaint,
        verbose_name=_("from complaint"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    capa = models.ForeignKey(
        Capa, verbose_name=_("CAPA"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(
        _("status"), max_length=20, choices=NoticeStatus.choices, default=NoticeStatus.DRAFT
    )
    created_by = _user_fk(_("drafted by"), null=False)
    issued_by = _user_fk(_("issued by"))
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    signature = models.ForeignKey(
        "core.Signature",
        verbose_name=_("signature"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    authority_name = models.CharField(_("authority notified"), max_length=200, blank=True)
    authority_notified_at = models.DateTimeField(_("authority notified at"), null=True, blank=True)
    authority_reference = models.CharField(_("authority reference"), max_length=100, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    close_comment = models.TextField(_("closing comment"), blank=True)

    controlled = True
    audit_reason_exempt = ("status", "signature", "issued_by", "issued_at")
    permission_module = "notices"

    class Meta:
        verbose_name = _("advisory notice")
        verbose_name_plural = _("advisory notices")
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.number} {self.title}"

    def get_absolute_url(self):
        return reverse("complaints:notice_detail", args=[self.pk])

    def signature_content(self):
        """The issuer signs the text of the notice and the affected units."""
        return {
            "notice": self.number,
            "kind": self.kind,
            "title": self.title,
            "reason": self.reason,
            "risk": self.risk,
            "risk_description": self.risk_description,
            "action_required": self.action_required,
            "items": [[i.product_id, i.lot_number, i.serial_number] for i in self.items.order_by("pk")],
        }

    @classmethod
    def scope_q(cls, user, scope):
        portal_customer = _portal_customer_id(user)
        if portal_customer is not None:
            return models.Q(
                pk__in=NoticeRecipient.objects.filter(customer_id=portal_customer).values("notice_id")
            )
        return None


class NoticeItem(QModel):
    """An affected product lot or serial of a notice (either may be blank = all of the product)."""

    notice = models.ForeignKey(
        AdvisoryNotice, verbose_name=_("notice"), on_delete=models.CASCADE, related_name="items"
    )
    product = models.ForeignKey(
        "catalog.Product", verbose_name=_("product"), on_delete=models.PROTECT, related_name="+"
    )
    lot_number = models.CharField(_("lot number"), max_length=60, blank=True)
    serial_number = models.CharField(_("serial number"), max_length=80, blank=True)

    permission_module = "notices"

    class Meta:
        verbose_name = _("affected lot / serial")
        verbose_name_plural = _("affected lots / serials")
        ordering = ["id"]

    @classmethod
    def scope_q(cls, user, scope):
        portal_customer = _portal_customer_id(user)
        if portal_customer is not None:
            return models.Q(notice__recipients__customer_id=portal_customer)
        return None


class NoticeRecipient(VersionedModel):
    """One affected customer of a notice: what it received, when told, its acknowledgement and action."""

    notice = models.ForeignKey(
        AdvisoryNotice, verbose_name=_("notice"), on_delete=models.CASCADE, related_name="recipients"
    )
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    shipments = models.JSONField(
        _("shipments"), default=list, help_text=_("Shipment numbers, lots/serials and quantities received.")
    )
    quantity_shipped = models.DecimalField(_("quantity received"), default=Decimal("0"), **QUANTITY)
    sent_at = models.DateTimeField(_("notice sent at"), null=True, blank=True)
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledged_by_name = models.CharField(_("acknowledged by (customer)"), max_length=100, blank=True)
    action = models.CharField(_("action taken"), max_length=20, choices=RecipientAction.choices, blank=True)
    quantity_accounted = models.DecimalField(_("quantity accounted for"), default=Decimal("0"), **QUANTITY)
    action_at = models.DateTimeField(_("action recorded at"), null=True, blank=True)
    action_comment = models.TextField(_("comment"), blank=True)
    recorded_by = _user_fk(_("recorded by"))
    remind_at = models.DateTimeField(_("next reminder at"), null=True, blank=True)
    reminder_count = models.PositiveSmallIntegerField(_("reminders sent"), default=0)
    last_reminded_at = models.DateTimeField(_("last reminded at"), null=True, blank=True)

    permission_module = "notices"

    class Meta:
        verbose_name = _("notice recipient")
        verbose_name_plural = _("notice recipients")
        ordering = ["customer__code", "id"]
        constraints = [models.UniqueConstraint(fields=["notice", "customer"], name="uniq_notice_customer")]
        indexes = [models.Index(fields=["remind_at"], name="an_recipient_remind")]

    @property
    def is_complete(self):
        return bool(self.acknowledged_at and self.action)

    @classmethod
    def scope_q(cls, user, scope):
        portal_customer = _portal_customer_id(user)
        if portal_customer is not None:
            return models.Q(customer_id=portal_customer)
        return None
