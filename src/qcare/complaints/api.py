"""REST endpoints of customer feedback and complaints (R-IF-2 for R-CO-1…11).

Mounted automatically by :mod:`qcare.api.router`. Every record is read through
``Model.objects.restrict(user, "view")`` (outside the caller's scope → 404, the same rule as the
screens; no permission of the module at all → 403 on lists). Every write calls a service —
:mod:`~qcare.complaints.services` (the complaint workflow), ``services_feedback``,
``services_capa``, ``services_returns``, ``services_notices`` — which checks the permission of
the action (403), the state (409) and the input (400 with field errors); the endpoints here
never change a row themselves. Statistics come from :mod:`qcare.complaints.reports`.
See docs/api-complaints.md.

Signatures (approval and rejection of a disposition, the reportability decision, receipt of
returned goods, CAPA verification, issuing a notice) take the password in the body, like the
screens; a wrong one answers 400 ``signature_refused`` and nothing changes.

Text fields are returned exactly as stored (JSON, never HTML): clients escape when they render.
"""

import datetime
from decimal import Decimal
from typing import Any, Literal

from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema

from qcare.accounts.models import Department, User
from qcare.accounts.permissions import has_perm
from qcare.api.crud import (
    READ_ERRORS,
    WRITE_ERRORS,
    Resource,
    expected_version,
    json_response,
    row_of,
)
from qcare.api.helpers import action_version as _action_version
from qcare.api.helpers import created as _created
from qcare.api.helpers import describe as _describe
from qcare.api.helpers import invalid as _invalid
from qcare.api.helpers import page as _page
from qcare.api.helpers import signatures as _signatures
from qcare.api.helpers import user_name as _name
from qcare.api.helpers import versioned_call as _versioned_call
from qcare.api.schemas import (
    MAX_ID,
    ClientInput,
    ErrorOut,
    ListQuery,
    Money,
    Page,
    PageQuery,
    Password,
    Quantity,
    RecordId,
    Username,
    money_input,
)
from qcare.catalog.models import Product
from qcare.complaints import reports, selectors
from qcare.complaints import services as workflow
from qcare.complaints import services_capa as capa_services
from qcare.complaints import services_feedback as feedback_services
from qcare.complaints import services_notices as notice_services
from qcare.complaints import services_returns as return_services
from qcare.complaints.choices import (
    OPEN_STATUSES,
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
    Demand,
    Disposition,
    FeedbackKind,
    FeedbackStatus,
    Fishbone,
    NoticeKind,
    NoticeStatus,
    PartyKind,
    RecipientAction,
    ReplyChannel,
    ReplyKind,
    ReportBasis,
    ReportOutcome,
    ReportQuestion,
    ReturnDisposition,
    ReturnStatus,
    Risk,
    SettlementKind,
    SettlementStatus,
    Severity,
)
from qcare.complaints.models import (
    AdvisoryNotice,
    Capa,
    CapaAction,
    Complaint,
    Feedback,
    NoticeRecipient,
    ResponsibilityReport,
    ReturnNote,
    Settlement,
)
from qcare.core.errors import NotFound, NotPermitted, ValidationFailed
from qcare.customers.api import NoNul
from qcare.customers.models import Communication, Contact, Customer
from qcare.orders.models import Order, ShipmentLine

TAGS = ["complaints"]


Share = money_input(5, 2)
PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
Text = Field(..., min_length=1, max_length=8000)
Blank = Literal[""]


def blank_or(choices):
    """An input enum that also accepts "" (not chosen): one Literal, so an error names the field."""
    return Literal[("", *choices.values)]


# --- output schemas -------------------------------------------------------------------------
class ComplaintSignatureOut(Schema):
    """An e-signature as shown wherever the record is shown (P4)."""

    signer: int
    signer_name: str = Field(description="printed name at the time of signing")
    meaning: str
    meaning_display: str
    signed_at: datetime.datetime = Field(description="in the company's time zone")
    comment: str
    is_valid: bool = Field(description="false once the signed content changed")


class ComplaintRecordRefOut(Schema):
    """A linked record: id and number."""

    id: int
    number: str


class FeedbackOut(Schema):
    """An entry of the feedback register (顾客信息反馈单) as listed."""

    id: int
    number: str
    channel: Channel
    kind: FeedbackKind
    customer: int | None
    customer_name: str = Field(description="the customer's name when not in the customer file")
    product: int | None
    received_at: datetime.datetime
    subject: str
    recorded_by: int
    department: int | None
    owner: int | None
    status: FeedbackStatus
    due_at: datetime.datetime | None = Field(description="first answer due (working hours)")
    answered_at: datetime.datetime | None
    converted_to: ConvertedTo | Blank
    converted_to_id: int | None
    converted_to_number: str
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class FeedbackDetail(FeedbackOut):
    """One feedback entry with its content, answer and conversion."""

    status_display: str
    kind_display: str
    customer_display: str = Field(description="the customer's name (file or free text)")
    contact: int | None
    contact_name: str
    contact_phone: str
    content: str
    answered_by: int | None
    answer_channel: ReplyChannel | Blank
    answer: str
    communication: int | None = Field(description="the communication-log entry it came from")
    is_overdue: bool


class ComplaintOut(Schema):
    """A complaint (客户投诉处理表) as listed."""

    id: int
    number: str
    customer: int
    customer_name: str
    channel: Channel
    received_at: datetime.datetime
    is_foreign: bool
    order: int | None
    product: int | None
    product_code: str | None
    part_number: str
    lot_number: str
    serial_number: str
    status: ComplaintStatus
    severity: Severity | Blank
    category: Category | Blank
    owner: int | None
    is_major: bool
    is_regulated: bool
    is_repeat: bool
    cause_category: CauseCategory | Blank
    disposition: Disposition | Blank
    loss_amount: Decimal = Field(description="CNY")
    due_at: datetime.datetime | None = Field(description="close by (13 days domestic, 17 foreign)")
    closed_at: datetime.datetime | None
    closed_on_time: bool | None
    parent: int | None = Field(description="the complaint this one follows up")
    capa: int | None
    period: str = Field(description="month received (YYYY-MM)")
    registered_by: int
    department: int | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ComplaintDeadlineOut(Schema):
    """A stored deadline with its reminder chain (R-CO-4)."""

    kind: DeadlineKind
    kind_display: str
    due_at: datetime.datetime
    warn_at: datetime.datetime | None
    escalate_at: datetime.datetime | None
    escalate2_at: datetime.datetime | None
    warned_at: datetime.datetime | None
    reminded_at: datetime.datetime | None
    escalated_at: datetime.datetime | None
    escalated2_at: datetime.datetime | None
    met_at: datetime.datetime | None
    was_late: bool | None
    is_overdue: bool


class ComplaintTransitionOut(Schema):
    """One status change (who, when, why)."""

    from_status: ComplaintStatus | Blank
    to_status: ComplaintStatus
    actor: int | None
    actor_name: str
    at: datetime.datetime
    reason: str


class ComplaintFindingOut(Schema):
    """A department's investigation finding (requested and/or written)."""

    id: int
    department: int
    department_code: str
    department_name: str
    requested_by: int | None
    requested_at: datetime.datetime | None
    text: str
    author: int | None
    author_name: str
    written_at: datetime.datetime | None
    version: int


class ResponsiblePartyOut(Schema):
    """A responsible department, person or supplier with its share and allocated loss (R-CO-8)."""

    id: int
    kind: PartyKind
    department: int | None
    department_name: str
    person: int | None
    person_name: str
    supplier_name: str
    share: Decimal = Field(description="percent; the shares of a complaint add up to 100")
    amount: Decimal = Field(description="allocated loss, CNY")


class ComplaintReplyOut(Schema):
    """A reply to the customer as recorded (the internal form is never sent)."""

    id: int
    kind: ReplyKind
    channel: ReplyChannel
    replied_on: datetime.date
    text: str
    recorded_by: int
    recorded_by_name: str
    recorded_at: datetime.datetime


class ReportabilityOut(Schema):
    """The signed reportability decision (R-CO-9)."""

    id: int
    answers: dict[str, bool]
    outcome: ReportOutcome
    basis: ReportBasis | Blank
    rationale: str
    authority: str
    report_due_at: datetime.datetime | None
    report_sent_at: datetime.datetime | None
    report_reference: str
    decided_by: int
    decided_by_name: str
    decided_at: datetime.datetime
    signatures: list[ComplaintSignatureOut]
    version: int


class ComplaintDetail(ComplaintOut):
    """One complaint with its whole case file."""

    status_display: str
    contact: int | None
    contact_name: str
    contact_phone: str
    order_reference: str
    shipment_line: int | None
    shipped_on: datetime.date | None
    quantity: Decimal | None
    defective_quantity: Decimal | None
    quantity_pending: bool = Field(description="quantity not yet known — the customer is still processing")
    description: str
    demands: list[Demand]
    demand_details: str
    claimed_amount: Decimal | None
    feedback: int | None
    human_error: bool
    major_reasons: list[str] = Field(description="codes of why it is major")
    major_reason_texts: list[str]
    investigation_report: str
    investigation_reported_at: datetime.datetime | None
    root_cause: str
    disposition_details: str
    disposition_quantity: Decimal | None
    approval_band: str = Field(description="sales_manager, deputy_gm or gm (by loss amount)")
    proposed_by: int | None
    proposed_at: datetime.datetime | None
    approved_by: int | None
    approved_at: datetime.datetime | None
    approval_comment: str
    first_answer_at: datetime.datetime | None
    replied_at: datetime.datetime | None
    customer_accepted: bool | None
    customer_response: str
    customer_response_at: datetime.datetime | None
    closed_by: int | None
    close_reason: str
    overdue_reason: str
    days_to_close: int | None
    closed_period: str
    closure_problems: list[str] = Field(description="what still prevents closing (empty when it may close)")
    deadlines: list[ComplaintDeadlineOut]
    transitions: list[ComplaintTransitionOut]
    findings: list[ComplaintFindingOut]
    responsibility: list[ResponsiblePartyOut]
    replies: list[ComplaintReplyOut]
    reportability: ReportabilityOut | None
    signatures: list[ComplaintSignatureOut] = Field(description="approval / rejection signatures")
    follow_ups: list[ComplaintRecordRefOut]
    returns: list[ComplaintRecordRefOut]
    settlements: list[int]


class CapaActionOut(Schema):
    """An action of a CAPA with owner and due date."""

    id: int
    capa: int
    kind: ActionKind
    description: str
    owner: int
    owner_name: str
    due_on: datetime.date
    status: ActionStatus
    result: str
    done_at: datetime.datetime | None
    version: int


class CapaOut(Schema):
    """A CAPA (纠正和预防措施) as listed."""

    id: int
    number: str
    source: CapaSource
    feedback: int | None
    title: str
    product: int | None
    cause_category: CauseCategory | Blank
    owner: int
    department: int | None
    status: CapaStatus
    opened_by: int
    opened_at: datetime.datetime
    due_on: datetime.date | None
    is_effective: bool | None
    verified_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class CapaDetail(CapaOut):
    """A CAPA with its analysis, actions, linked complaints and verification signature."""

    status_display: str
    problem: str
    containment: str
    why_analysis: list[str] = Field(description="the 5-why chain")
    fishbone: dict[str, str] = Field(description="fishbone (5M1E) category → finding")
    root_cause: str
    verification: str
    verified_by: int | None
    cancel_reason: str
    complaints: list[ComplaintRecordRefOut]
    actions: list[CapaActionOut]
    signatures: list[ComplaintSignatureOut]


class ReturnOut(Schema):
    """A return note (退货单) as listed."""

    id: int
    number: str
    complaint: int
    customer: int
    product: int | None
    lot_number: str
    approved_quantity: Decimal
    reason: str
    disposition: ReturnDisposition
    basis: str
    status: ReturnStatus
    created_by: int
    received_quantity: Decimal | None
    received_by: int | None
    received_at: datetime.datetime | None
    inspection_report: str = Field(description="quality abnormality report (品质异常处理报告)")
    inspected_by: int | None
    inspected_at: datetime.datetime | None
    tolerance_percent: Decimal | None
    escalation_reason: str
    posted_by: int | None
    posted_at: datetime.datetime | None
    post_comment: str
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class ReturnDetail(ReturnOut):
    """A return note with its complaint and the warehouse's receipt signature."""

    status_display: str
    complaint_number: str
    signatures: list[ComplaintSignatureOut]


class SettlementOut(Schema):
    """An allowance (折让) or compensation (赔款) for finance."""

    id: int
    complaint: int
    customer: int
    kind: SettlementKind
    amount: Decimal
    currency: str
    description: str
    status: SettlementStatus
    created_by: int
    settled_by: int | None
    settled_at: datetime.datetime | None
    finance_reference: str
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class NoticeItemOut(Schema):
    """An affected product lot or serial (blank = all of the product)."""

    id: int
    product: int
    product_code: str
    product_name: str
    lot_number: str
    serial_number: str


class AdvisoryNoticeOut(Schema):
    """An advisory notice or recall (忠告性通知/召回) as listed."""

    id: int
    number: str
    kind: NoticeKind
    title: str
    risk: Risk
    complaint: int | None
    capa: int | None
    status: NoticeStatus
    created_by: int
    issued_by: int | None
    issued_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    version: int
    created_at: datetime.datetime
    updated_at: datetime.datetime


class AdvisoryNoticeDetail(AdvisoryNoticeOut):
    """A notice with its text, affected units, authority notification and signature."""

    status_display: str
    reason: str
    risk_description: str
    action_required: str
    authority_name: str
    authority_notified_at: datetime.datetime | None
    authority_reference: str
    close_comment: str
    items: list[NoticeItemOut]
    recipients: int = Field(description="customers the notice went to")
    recipients_complete: int = Field(description="customers who acknowledged and reported their action")
    signatures: list[ComplaintSignatureOut]


class NoticeRecipientOut(Schema):
    """An affected customer of an issued notice: what it received, its acknowledgement and action."""

    id: int
    notice: int
    customer: int
    customer_code: str
    customer_name: str
    shipments: list[dict[str, Any]] = Field(description="[{number, lot, serial, quantity, shipped_on}]")
    quantity_shipped: Decimal
    sent_at: datetime.datetime | None
    acknowledged_at: datetime.datetime | None
    acknowledged_by_name: str
    action: RecipientAction | Blank
    quantity_accounted: Decimal
    action_at: datetime.datetime | None
    action_comment: str
    recorded_by: int | None
    remind_at: datetime.datetime | None
    reminder_count: int
    last_reminded_at: datetime.datetime | None
    is_complete: bool
    version: int


class NoticeAffectedCustomerOut(Schema):
    """A customer who received affected units (from shipment traceability)."""

    customer: int
    code: str
    name: str
    quantity: Decimal
    shipments: list[dict[str, Any]]


class NoticeEffectivenessOut(Schema):
    """How far the notice has reached its customers and their units (R-CO-10)."""

    customers: int
    acknowledged: int
    completed: int
    units_shipped: Decimal
    units_accounted: Decimal
    share_accounted: Decimal = Field(description="percent of shipped units accounted for (0–100)")


class ComplaintStatisticsOut(Schema):
    """Complaint statistics of a period range (R-CO-11); each list is ``[{key, label, count, …}]``
    as computed by :func:`qcare.complaints.reports.complaint_statistics`."""

    period_from: str
    period_to: str
    data: dict[str, Any] = Field(
        description="by_month, by_customer, by_product, by_category, by_cause, by_department, pareto, "
        "on_time_rate, average_days_to_close, repeat_rate, cost"
    )


class ResponsibilityReportOut(Schema):
    """The monthly responsibility report (责任报告, R-CO-8)."""

    period: str
    stored: bool = Field(description="generated on the 1st (true) or computed now (false)")
    generated_at: datetime.datetime | None
    due_on: datetime.date | None
    delivered_at: datetime.datetime | None
    acknowledged_at: datetime.datetime | None
    data: dict[str, Any]


# --- input schemas --------------------------------------------------------------------------
class FeedbackCreate(NoNul, ClientInput):
    """New feedback; number, due date, recorder and department are set by the system."""

    channel: Channel
    kind: FeedbackKind
    subject: str = Field(..., min_length=1, max_length=200)
    content: str = Text
    customer: RecordId | None = None
    customer_name: str = Field("", max_length=200, description="when the customer is not in the file")
    contact: RecordId | None = None
    contact_name: str = Field("", max_length=100)
    contact_phone: str = Field("", max_length=50)
    product: RecordId | None = None
    received_at: datetime.datetime | None = Field(None, description="default: now")
    owner: RecordId | None = Field(None, description="who handles it; default: you")


class FeedbackUpdate(NoNul, ClientInput):
    """Correct an open feedback entry; omitted fields stay."""

    version: int | None = Field(None, ge=1, description="the version you loaded; or send If-Match")
    channel: Channel = None
    kind: FeedbackKind = None
    subject: str = Field(None, min_length=1, max_length=200)
    content: str = Field(None, min_length=1, max_length=8000)
    customer: RecordId | None = None
    customer_name: str = Field(None, max_length=200)
    contact: RecordId | None = None
    contact_name: str = Field(None, max_length=100)
    contact_phone: str = Field(None, max_length=50)
    product: RecordId | None = None
    owner: RecordId = None


class FeedbackAnswerIn(NoNul, ClientInput):
    channel: ReplyChannel
    answer: str = Text


class ComplaintsReasonIn(NoNul, ClientInput):
    reason: str = Field(..., min_length=1, max_length=2000)


class ComplaintFieldsIn(NoNul, ClientInput):
    """The registration fields of a complaint (R-CO-2)."""

    channel: Channel
    description: str = Text
    received_at: datetime.datetime | None = Field(None, description="default: now")
    contact: RecordId | None = None
    contact_name: str = Field("", max_length=100)
    contact_phone: str = Field("", max_length=50)
    order: RecordId | None = None
    order_reference: str = Field("", max_length=100)
    shipment_line: RecordId | None = Field(
        None, description="a shipment line of the customer: fills order, product, lot, serial, date, quantity"
    )
    product: RecordId | None = None
    part_number: str = Field("", max_length=100)
    lot_number: str = Field("", max_length=60)
    serial_number: str = Field("", max_length=80)
    shipped_on: datetime.date | None = None
    quantity: Quantity | None = Field(None, description="quantity delivered")
    defective_quantity: Quantity | None = None
    quantity_pending: bool = Field(False, description="quantity not yet known (customer still processing)")
    demands: list[Demand] = Field([], max_length=6)
    demand_details: str = Field("", max_length=4000)
    claimed_amount: Money | None = None


class ComplaintCreate(ComplaintFieldsIn):
    """A new complaint; number, deadlines, status and registrant are set by the system."""

    customer: RecordId
    feedback: RecordId | None = Field(None, description="the feedback entry it comes from")


class FeedbackConvertIn(ComplaintFieldsIn):
    """The complaint the feedback becomes: customer, contact, channel, product, time of receipt and
    description (the feedback's content) come from the entry unless given."""

    customer: RecordId | None = None
    channel: Channel = None
    description: str = Field(None, min_length=1, max_length=8000)


class FeedbackCapaIn(NoNul, ClientInput):
    title: str = Field(..., min_length=1, max_length=200)
    problem: str = Text
    owner: RecordId


class FeedbackFromCommunicationIn(NoNul, ClientInput):
    """Turn a communication-log entry of the customer file into feedback (R-CO-1)."""

    communication: RecordId
    kind: FeedbackKind
    owner: RecordId | None = None


class ComplaintUpdate(NoNul, ClientInput):
    """Correct the registration of an open complaint; a reason is required (controlled record)."""

    version: int | None = Field(None, ge=1, description="the version you loaded; or send If-Match")
    reason: str | None = Field(None, max_length=1000, description="why the record is changed (required)")
    channel: Channel = None
    description: str = Field(None, min_length=1, max_length=8000)
    received_at: datetime.datetime = None
    contact: RecordId | None = None
    contact_name: str = Field(None, max_length=100)
    contact_phone: str = Field(None, max_length=50)
    order_reference: str = Field(None, max_length=100)
    part_number: str = Field(None, max_length=100)
    lot_number: str = Field(None, max_length=60)
    serial_number: str = Field(None, max_length=80)
    shipped_on: datetime.date | None = None
    quantity: Quantity | None = None
    defective_quantity: Quantity | None = None
    quantity_pending: bool = None
    demands: list[Demand] = Field(None, max_length=6)
    demand_details: str = Field(None, max_length=4000)
    claimed_amount: Money | None = None


class ComplaintVersionIn(ClientInput):
    version: int | None = Field(None, ge=1, description="the version you loaded (optional)")


class ComplaintTriageIn(NoNul, ComplaintVersionIn):
    severity: Severity
    category: Category
    owner: RecordId = Field(..., description="the quality engineer who owns the investigation")
    human_error: bool = False


class ComplaintDepartmentsIn(NoNul, ClientInput):
    departments: list[RecordId] = Field(
        [], max_length=20, description="ids of departments asked for findings"
    )


class ComplaintFindingIn(NoNul, ClientInput):
    text: str = Text


class ComplaintInvestigationReportIn(NoNul, ClientInput):
    report: str = Text


class ResponsiblePartyIn(NoNul, ClientInput):
    """A responsible department, person or supplier with its share in percent."""

    kind: PartyKind
    department: RecordId | None = None
    person: RecordId | None = None
    supplier_name: str = Field("", max_length=200)
    share: Share = Field(..., description="percent (> 0); all shares add up to 100")


class ComplaintResponsibilityIn(NoNul, ComplaintVersionIn):
    root_cause: str = Text
    cause_category: CauseCategory
    parties: list[ResponsiblePartyIn] = Field(..., min_length=1, max_length=20)


class ComplaintDispositionIn(NoNul, ClientInput):
    disposition: Disposition
    details: str = Field(..., min_length=1, max_length=8000)
    loss_amount: Money = Field(..., description="CNY (≥ 0); decides the approval band")
    quantity: Quantity | None = Field(None, description="quantity concerned (return, replace, rework)")


class DispositionApproveIn(NoNul, ClientInput):
    password: str = Password
    comment: str = Field("", max_length=2000)
    username: str | None = Username


class DispositionRejectIn(NoNul, ClientInput):
    password: str = Password
    reason: str = Field(..., min_length=1, max_length=2000)
    username: str | None = Username


class ComplaintReplyIn(NoNul, ClientInput):
    kind: ReplyKind
    channel: ReplyChannel
    replied_on: datetime.date
    text: str = Text


class ComplaintCustomerResponseIn(NoNul, ClientInput):
    accepted: bool
    response: str = Field("", max_length=8000)
    overdue_reason: str = Field("", max_length=4000, description="required when closed after the deadline")


class ComplaintNotSubstantiatedIn(NoNul, ClientInput):
    reason: str = Field(..., min_length=1, max_length=4000)
    overdue_reason: str = Field("", max_length=4000, description="required when closed after the deadline")


class ComplaintReportabilityIn(NoNul, ClientInput):
    """The reportability decision (R-CO-9), signed with your password."""

    answers: dict[ReportQuestion, bool] = Field(..., description="every question answered true/false")
    outcome: ReportOutcome
    rationale: str = Field(..., min_length=1, max_length=8000)
    basis: blank_or(ReportBasis) = Field("", description="when reportable: death, serious or cluster")
    authority: str = Field("", max_length=200, description="when reportable: the authority to report to")
    password: str = Password
    username: str | None = Username


class ComplaintAuthorityReportIn(NoNul, ClientInput):
    sent_at: datetime.datetime
    reference: str = Field(..., min_length=1, max_length=100)


class ComplaintFollowUpIn(NoNul, ClientInput):
    description: str = Text
    channel: Channel | None = None


class RepeatCapaIn(ClientInput):
    owner: RecordId | None = Field(None, description="the CAPA owner (default: you or the complaint's owner)")


class CapaCreate(NoNul, ClientInput):
    """A new CAPA; number, status and department are set by the system."""

    source: CapaSource
    title: str = Field(..., min_length=1, max_length=200)
    problem: str = Text
    owner: RecordId
    complaints: list[RecordId] = Field([], max_length=100)
    feedback: RecordId | None = None
    product: RecordId | None = None
    cause_category: blank_or(CauseCategory) = ""
    containment: str = Field("", max_length=8000)
    due_on: datetime.date | None = None


class CapaAnalysisIn(NoNul, ComplaintVersionIn):
    containment: str = Field("", max_length=8000)
    why_analysis: list[str] = Field([], max_length=5, description="up to five whys")
    fishbone: dict[Fishbone, str] = Field({}, description="fishbone (5M1E) category → finding")
    root_cause: str = Field("", max_length=8000)


class CapaActionIn(NoNul, ClientInput):
    kind: ActionKind = ActionKind.CORRECTIVE
    description: str = Text
    owner: RecordId
    due_on: datetime.date


class CapaActionResultIn(NoNul, ClientInput):
    result: str = Text


class CapaVerifyIn(NoNul, ClientInput):
    effective: bool
    verification: str = Text
    password: str = Password
    username: str | None = Username


class ReturnCreate(NoNul, ClientInput):
    """A return note from an approved disposition (return, replace or rework)."""

    complaint: RecordId
    approved_quantity: Quantity
    reason: str = Text
    disposition: ReturnDisposition
    basis: str = Field("", max_length=4000)


class ReturnReceiveIn(NoNul, ClientInput):
    received_quantity: Quantity
    password: str = Password
    username: str | None = Username


class ReturnInspectIn(NoNul, ClientInput):
    report: str = Text


class ReturnPostIn(NoNul, ClientInput):
    comment: str = Field("", max_length=4000)


class ReturnResolveIn(NoNul, ClientInput):
    post: bool = Field(..., description="true: post anyway; false: cancel the return")
    reason: str = Field(..., min_length=1, max_length=4000)


class SettlementCreate(NoNul, ClientInput):
    complaint: RecordId
    kind: SettlementKind
    amount: Money
    currency: str = Field("CNY", min_length=3, max_length=3, pattern=r"^[A-Z]{3}$")
    description: str = Field("", max_length=4000)


class SettlementSettleIn(NoNul, ClientInput):
    finance_reference: str = Field(..., min_length=1, max_length=100)


class NoticeItemIn(NoNul, ClientInput):
    product: RecordId
    lot_number: str = Field("", max_length=60)
    serial_number: str = Field("", max_length=80)


class NoticeCreate(NoNul, ClientInput):
    """A draft advisory notice or recall; issued later by the management representative."""

    kind: NoticeKind = NoticeKind.ADVISORY
    title: str = Field(..., min_length=1, max_length=200)
    reason: str = Text
    risk: Risk
    risk_description: str = Field("", max_length=8000)
    action_required: str = Text
    items: list[NoticeItemIn] = Field(..., min_length=1, max_length=200)
    complaint: RecordId | None = None
    capa: RecordId | None = None


class NoticeUpdate(NoNul, ClientInput):
    """Change a draft notice; ``items`` replaces the affected units."""

    version: int | None = Field(None, ge=1, description="the version you loaded; or send If-Match")
    kind: NoticeKind = None
    title: str = Field(None, min_length=1, max_length=200)
    reason: str = Field(None, min_length=1, max_length=8000)
    risk: Risk = None
    risk_description: str = Field(None, max_length=8000)
    action_required: str = Field(None, min_length=1, max_length=8000)
    items: list[NoticeItemIn] = Field(None, min_length=1, max_length=200)


class NoticeIssueIn(NoNul, ClientInput):
    password: str = Password
    username: str | None = Username


class NoticeAcknowledgementIn(NoNul, ClientInput):
    acknowledged_by_name: str = Field("", max_length=100, description="who acknowledged at the customer")
    acknowledged_at: datetime.datetime | None = Field(None, description="default: now")
    action: blank_or(RecipientAction) = ""
    quantity_accounted: Quantity | None = None
    comment: str = Field("", max_length=4000)


class AuthorityNotificationIn(NoNul, ClientInput):
    authority_name: str = Field(..., min_length=1, max_length=200)
    notified_at: datetime.datetime
    reference: str = Field("", max_length=100)


class NoticeCloseIn(NoNul, ClientInput):
    comment: str = Field("", max_length=4000, description="required while recipients are incomplete")


# --- list queries ---------------------------------------------------------------------------
class FeedbackListQuery(NoNul, ListQuery):
    status: FeedbackStatus | None = None
    kind: FeedbackKind | None = None
    channel: Channel | None = None
    customer: RecordId | None = None
    owner: RecordId | None = None
    product: RecordId | None = None


COMPLAINT_ORDERINGS = ("received_at", "-received_at", "due_at", "-due_at", "number", "-number")


class ComplaintListQuery(NoNul, ListQuery):
    """Filters of the complaint list; ``q`` (or ``search``) searches number, customer, product,
    lot/serial, description and contact (Chinese too)."""

    q: str | None = Field(None, max_length=200, description="search term")
    status: ComplaintStatus | None = None
    open: bool | None = Field(None, description="only open (true) or only finished (false) cases")
    customer: RecordId | None = None
    product: RecordId | None = None
    owner: RecordId | None = None
    category: Category | None = None
    severity: Severity | None = None
    cause_category: CauseCategory | None = None
    period_from: str | None = Field(None, pattern=PERIOD, description="month received from (YYYY-MM)")
    period_to: str | None = Field(None, pattern=PERIOD, description="month received to (YYYY-MM)")
    overdue: bool | None = Field(None, description="open and past the close-by date")
    major: bool | None = None
    repeat: bool | None = None
    regulated: bool | None = None
    lot: str | None = Field(None, max_length=60, description="lot number (exact)")
    ordering: Literal[COMPLAINT_ORDERINGS] | None = None


class CapaListQuery(NoNul, ListQuery):
    status: CapaStatus | None = None
    source: CapaSource | None = None
    owner: RecordId | None = None
    product: RecordId | None = None


class ReturnListQuery(NoNul, ListQuery):
    status: ReturnStatus | None = None
    complaint: RecordId | None = None
    customer: RecordId | None = None


class SettlementListQuery(NoNul, ListQuery):
    status: SettlementStatus | None = None
    kind: SettlementKind | None = None
    complaint: RecordId | None = None
    customer: RecordId | None = None


class NoticeListQuery(NoNul, ListQuery):
    status: NoticeStatus | None = None
    kind: NoticeKind | None = None


class RecipientListQuery(NoNul, PageQuery):
    complete: bool | None = Field(None, description="only complete (true) or incomplete (false) customers")


class ComplaintStatisticsQuery(NoNul, Schema):
    period_from: str = Field(..., pattern=PERIOD, description="first month (YYYY-MM)")
    period_to: str = Field(..., pattern=PERIOD, description="last month (YYYY-MM)")
    customer: RecordId | None = None
    product: RecordId | None = None
    category: Category | None = None
    department: RecordId | None = None


# --- helpers --------------------------------------------------------------------------------
INVALID_CHOICE = "Select a valid choice. That choice is not one of the available choices."


def _lookup(model, pk, field, queryset=None):
    """The row ``pk`` of ``model`` (or of ``queryset``), else a field error on ``field``."""
    if pk is None:
        return None
    qs = queryset if queryset is not None else model._default_manager.all()
    obj = qs.filter(pk=pk).first()
    if obj is None:
        raise _invalid(field, _(INVALID_CHOICE))
    return obj


def _visible(model, request, pk, field):
    """A record named in a body, within the caller's view scope (else a field error)."""
    return _lookup(model, pk, field, model.objects.restrict(request.auth, "view"))


RELATIONS = {
    "customer": Customer,
    "contact": Contact,
    "product": Product,
    "owner": User,
    "order": Order,
    "shipment_line": ShipmentLine,
    "person": User,
    "department": Department,
    "feedback": Feedback,
}


def _relations(data, names=RELATIONS):
    """Foreign-key ids of client input → instances (unknown ids are field errors, all at once)."""
    errors = {}
    for name, model in names.items():
        if data.get(name) is not None:
            obj = model._default_manager.filter(pk=data[name]).first()
            if obj is None:
                errors[name] = [_(INVALID_CHOICE)]
            data[name] = obj
    if errors:
        raise ValidationFailed(_("Please correct the errors below."), errors=errors)
    return data


def _departments(ids, field="departments"):
    found = {d.pk: d for d in Department.objects.filter(pk__in=ids)}
    if len(found) != len(set(ids)):
        raise _invalid(field, _(INVALID_CHOICE))
    return [found[pk] for pk in dict.fromkeys(ids)]


def _refs(queryset):
    return [{"id": pk, "number": number} for pk, number in queryset.values_list("pk", "number")]


def _enum_codes(data, *names):
    """Enum values (from the schema) as the plain codes the services store."""
    for name in names:
        value = data.get(name)
        if isinstance(value, list):
            data[name] = [str(v) for v in value]
        elif isinstance(value, dict):
            data[name] = {str(k): v for k, v in value.items()}
        elif value is not None:
            data[name] = str(value)
    return data


def _display(obj, field):
    value = getattr(obj, field)
    return str(getattr(obj, f"get_{field}_display")()) if value else ""


# --- feedback -------------------------------------------------------------------------------
FEEDBACK_FIELDS = tuple(FeedbackOut.model_fields)
FEEDBACK_DETAIL_FIELDS = FEEDBACK_FIELDS + (
    "contact",
    "contact_name",
    "contact_phone",
    "content",
    "answered_by",
    "answer_channel",
    "answer",
    "communication",
)


def feedback_detail(feedback):
    feedback = Feedback.objects.select_related("customer").get(pk=feedback.pk)
    data = row_of(feedback, FEEDBACK_DETAIL_FIELDS)
    data.update(
        status_display=_display(feedback, "status"),
        kind_display=_display(feedback, "kind"),
        customer_display=feedback.customer.name if feedback.customer else feedback.customer_name,
        is_overdue=bool(
            feedback.status == FeedbackStatus.OPEN and feedback.due_at and feedback.due_at < timezone.now()
        ),
    )
    return data


feedback = Resource(
    Feedback,
    "feedback",
    out=FeedbackOut,
    detail_out=FeedbackDetail,
    list_fields=FEEDBACK_FIELDS,
    detail=feedback_detail,
    list_query=FeedbackListQuery,
    search_fields=("number", "subject", "customer_name", "customer__name", "contact_name"),
    filters={
        "status": "status",
        "kind": "kind",
        "channel": "channel",
        "customer": "customer_id",
        "owner": "owner_id",
        "product": "product_id",
    },
    tags=TAGS,
)
router = Router(tags=TAGS)


def _feedback_answer(obj, status=200, request=None):
    obj = Feedback.objects.get(pk=obj.pk)
    if status == 201:
        return _created(request, feedback_detail(obj), obj, path="/api/feedback/")
    return json_response(feedback_detail(obj), obj=obj)


@feedback.router.post(
    "/feedback/",
    response={201: FeedbackDetail, **WRITE_ERRORS},
    operation_id="feedback_create",
    summary="Log customer feedback",
)
def create_feedback(request, payload: FeedbackCreate):
    """Log information from a customer received by any channel (feedback.add, R-CO-1): numbered
    ``FK-{YYYY}{MM}-{NNNN}``, the first answer due after ``feedback.first_answer`` working hours;
    handled by you unless ``owner`` is given."""
    data = _relations(_enum_codes(payload.model_dump(), "channel", "kind"))
    obj = feedback_services.log_feedback(request.auth, **data)
    return _feedback_answer(obj, 201, request)


@feedback.router.patch(
    "/feedback/{int:pk}/",
    response={200: FeedbackDetail, 412: ErrorOut, **WRITE_ERRORS},
    operation_id="feedback_update",
    summary="Correct a feedback entry",
)
def update_feedback(request, pk: int, payload: FeedbackUpdate):
    """Correct an open entry (feedback.change); send ``version`` (or If-Match)."""
    obj = feedback.get(request, pk)
    data = payload.model_dump(exclude_unset=True)
    version = expected_version(request, obj, data.pop("version", None))
    data = _relations(_enum_codes(data, "channel", "kind"))
    _versioned_call(
        request,
        lambda: feedback_services.update_feedback(request.auth, obj, data=data, expected_version=version),
    )
    return _feedback_answer(obj)


@feedback.action("answer", FeedbackAnswerIn, summary="Answer the feedback")
def answer_feedback(request, obj, payload):
    """Record the answer given to the customer (feedback.change): the entry becomes answered."""
    return feedback_services.answer_feedback(
        request.auth, obj, channel=str(payload.channel), answer=payload.answer
    )


@feedback.action("close", ComplaintsReasonIn, summary="Close the feedback")
def close_feedback(request, obj, payload):
    """Close without converting it (e.g. praise noted), with the reason."""
    return feedback_services.close_feedback(request.auth, obj, reason=payload.reason)


@feedback.router.post(
    "/feedback/{int:pk}/convert-to-complaint/",
    response={201: ComplaintDetail, **WRITE_ERRORS},
    operation_id="feedback_convert_to_complaint",
    summary="Convert the feedback into a complaint",
)
def convert_to_complaint(request, pk: int, payload: FeedbackConvertIn):
    """Register a complaint from the feedback (complaints.add; the feedback becomes converted);
    the customer is the feedback's unless given. Answers the new complaint."""
    obj = feedback.get(request, pk)
    data = _relations(_complaint_input(payload.model_dump(exclude_unset=True)))
    if data.get("customer") is None:
        data.pop("customer", None)
    complaint = feedback_services.convert_feedback_to_complaint(request.auth, obj, **data)
    return _complaint_answer(complaint, 201, request)


@feedback.router.post(
    "/feedback/{int:pk}/convert-to-capa/",
    response={201: CapaDetail, **WRITE_ERRORS},
    operation_id="feedback_convert_to_capa",
    summary="Convert the feedback into a CAPA",
)
def convert_to_capa(request, pk: int, payload: FeedbackCapaIn):
    """Open a CAPA from the feedback (capa.add); the feedback becomes converted. Answers the CAPA.
    (Conversion into a customer requirement comes with the requirements module.)"""
    obj = feedback.get(request, pk)
    owner = _lookup(User, payload.owner, "owner")
    capa = feedback_services.convert_feedback_to_capa(
        request.auth, obj, title=payload.title, problem=payload.problem, owner=owner
    )
    return _capa_answer(capa, 201, request)


@feedback.router.post(
    "/feedback/from-communication/",
    response={201: FeedbackDetail, **WRITE_ERRORS},
    operation_id="feedback_from_communication",
    summary="Feedback from a communication-log entry",
)
def from_communication(request, payload: FeedbackFromCommunicationIn):
    """Turn an entry of a customer's communication log (沟通记录) into feedback (R-CO-1): customer,
    contact, channel, subject and content are copied; the entry links to the feedback."""
    communication = _visible(Communication, request, payload.communication, "communication")
    owner = _lookup(User, payload.owner, "owner")
    obj = feedback_services.feedback_from_communication(
        request.auth, communication, kind=str(payload.kind), owner=owner
    )
    return _feedback_answer(obj, 201, request)


router.add_router("", feedback.router)


# --- complaints -----------------------------------------------------------------------------
COMPLAINT_FIELDS = tuple(f for f in ComplaintOut.model_fields if f not in ("customer_name", "product_code"))
COMPLAINT_DETAIL_FIELDS = COMPLAINT_FIELDS + (
    "contact",
    "contact_name",
    "contact_phone",
    "order_reference",
    "shipment_line",
    "shipped_on",
    "quantity",
    "defective_quantity",
    "quantity_pending",
    "description",
    "demands",
    "demand_details",
    "claimed_amount",
    "feedback",
    "human_error",
    "major_reasons",
    "investigation_report",
    "investigation_reported_at",
    "root_cause",
    "disposition_details",
    "disposition_quantity",
    "approval_band",
    "proposed_by",
    "proposed_at",
    "approved_by",
    "approved_at",
    "approval_comment",
    "first_answer_at",
    "replied_at",
    "customer_accepted",
    "customer_response",
    "customer_response_at",
    "closed_by",
    "close_reason",
    "overdue_reason",
    "days_to_close",
    "closed_period",
)
DEADLINE_FIELDS = tuple(
    f for f in ComplaintDeadlineOut.model_fields if f not in ("kind_display", "is_overdue")
)


def _deadline_rows(complaint, now):
    return [
        {
            **row_of(d, DEADLINE_FIELDS),
            "kind_display": _display(d, "kind"),
            "is_overdue": d.met_at is None and d.due_at < now,
        }
        for d in complaint.deadlines.order_by("due_at", "id")
    ]


def _reportability_row(complaint):
    decision = getattr(complaint, "reportability", None)
    if decision is None:
        return None
    row = row_of(
        decision,
        (
            "id",
            "answers",
            "outcome",
            "basis",
            "rationale",
            "authority",
            "report_due_at",
            "report_sent_at",
            "report_reference",
            "decided_by",
            "decided_at",
            "version",
        ),
    )
    row.update(decided_by_name=_name(decision.decided_by), signatures=_signatures(decision))
    return row


def complaint_detail(complaint):
    """One complaint with its case file, for retrieve/create/update/action answers."""
    complaint = Complaint.objects.select_related("customer", "product").get(pk=complaint.pk)
    now = timezone.now()
    data = row_of(complaint, COMPLAINT_DETAIL_FIELDS)
    findings = complaint.findings.select_related("department", "author").order_by("id")
    parties = complaint.responsible_parties.select_related("department", "person")
    replies = complaint.replies.select_related("recorded_by").order_by("recorded_at", "id")
    transitions = complaint.transitions.select_related("actor").order_by("at", "id")
    problems = workflow.closure_problems(complaint) if complaint.is_open else []
    data.update(
        customer_name=complaint.customer.name,
        product_code=complaint.product.code if complaint.product else None,
        status_display=_display(complaint, "status"),
        major_reason_texts=[str(t) for t in workflow.major_reason_texts(complaint)],
        closure_problems=[str(p) for p in problems],
        deadlines=_deadline_rows(complaint, now),
        transitions=[
            {
                "from_status": t.from_status,
                "to_status": t.to_status,
                "actor": t.actor_id,
                "actor_name": _name(t.actor),
                "at": t.at,
                "reason": t.reason,
            }
            for t in transitions
        ],
        findings=[
            {
                **row_of(f, ("id", "department", "requested_by", "requested_at", "text", "author")),
                "department_code": f.department.code,
                "department_name": f.department.display_name,
                "author_name": _name(f.author),
                "written_at": f.written_at,
                "version": f.version,
            }
            for f in findings
        ],
        responsibility=[
            {
                **row_of(p, ("id", "kind", "department", "person", "supplier_name", "share", "amount")),
                "department_name": p.department.display_name if p.department else "",
                "person_name": _name(p.person),
            }
            for p in parties
        ],
        replies=[
            {
                **row_of(r, ("id", "kind", "channel", "replied_on", "text", "recorded_by", "recorded_at")),
                "recorded_by_name": _name(r.recorded_by),
            }
            for r in replies
        ],
        reportability=_reportability_row(complaint),
        signatures=_signatures(complaint),
        follow_ups=_refs(complaint.follow_ups.order_by("received_at", "id")),
        returns=_refs(complaint.returns.order_by("created_at", "id")),
        settlements=list(complaint.settlements.order_by("created_at", "id").values_list("pk", flat=True)),
    )
    return data


def _filter_complaints(queryset, query):
    """The list filters of :func:`qcare.complaints.selectors.filter_complaints` (search included)."""
    params = query.model_dump(exclude={"search", "page", "page_size", "ordering", "open", "cause_category"})
    params = {k: v for k, v in params.items() if v is not None}
    if not params.get("q") and query.search:
        params["q"] = query.search
    queryset = selectors.filter_complaints(queryset, params)
    if query.open is not None:
        lookup = {"status__in": OPEN_STATUSES}
        queryset = queryset.filter(**lookup) if query.open else queryset.exclude(**lookup)
    if query.cause_category:
        queryset = queryset.filter(cause_category=query.cause_category)
    return queryset


def _complaint_list_permission(user):
    if not has_perm(user, "complaints.view"):
        raise NotPermitted()


class ComplaintResource(Resource):
    """Complaints: a list with the search index and the workflow filters."""

    def _add_list(self):
        @self.router.get(
            "/complaints/",
            response={200: Page[ComplaintOut], 400: ErrorOut, **READ_ERRORS},
            url_name="complaints-list",
            operation_id="complaints_list",
            summary="List complaints",
        )
        def list_complaints(request, query: Query[ComplaintListQuery]):
            """Complaints in your scope (quality, management: all; departments: the ones they
            registered, investigate or are responsible for; clerks: their own and their
            customers'; portal users: their company's), newest first, paginated. Filters:
            ``status``, ``open``, ``customer``, ``product``, ``owner``, ``category``, ``severity``,
            ``cause_category``, month received ``period_from``/``period_to``, ``overdue``,
            ``major``, ``repeat``, ``regulated``, ``lot``; ``q`` searches (Chinese too)."""
            _complaint_list_permission(request.auth)
            queryset = Complaint.objects.restrict(request.auth, "view")
            queryset = _filter_complaints(queryset, query)
            if query.ordering:
                queryset = queryset.order_by(query.ordering, "-id")
            fields = COMPLAINT_FIELDS + ("customer_name", "product_code")

            def rows(page_qs):
                # Two steps: the page's ids without joins (the ORDER BY … LIMIT stays on the
                # complaint indexes), then those rows with the customer and product names. Joining
                # first made one page of 1,000,000 complaints take seconds (bench's measurement).
                ids = list(page_qs.values_list("pk", flat=True))
                found = Complaint.objects.filter(pk__in=ids).annotate(
                    customer_name=F("customer__name"), product_code=F("product__code")
                )
                by_id = {row["id"]: row for row in found.values(*fields)}
                return [by_id[pk] for pk in ids]

            return json_response(_page(request, queryset, query.page, query.page_size, rows))


complaints = ComplaintResource(
    Complaint,
    "complaints",
    out=ComplaintOut,
    detail_out=ComplaintDetail,
    list_fields=COMPLAINT_FIELDS,
    detail=complaint_detail,
    tags=TAGS,
)


def _complaint_answer(obj, status=200, request=None):
    obj = Complaint.objects.get(pk=obj.pk)
    if status == 201:
        return _created(request, complaint_detail(obj), obj, path="/api/complaints/")
    return json_response(complaint_detail(obj), obj=obj)


def _complaint_input(data):
    """Registration input in the shape ``services.register_complaint`` takes."""
    data = _enum_codes(data, "channel", "demands")
    if "demands" in data:
        data["demands"] = list(dict.fromkeys(data["demands"]))
    return data


@complaints.router.post(
    "/complaints/",
    response={201: ComplaintDetail, **WRITE_ERRORS},
    url_name="complaints-create",
    operation_id="complaints_create",
    summary="Register a complaint",
)
def create_complaint(request, payload: ComplaintCreate):
    """Register a complaint (complaints.add, R-CO-2): numbered ``KS-{YY}{MM}-{NNN}``, deadlines
    opened (first written answer, investigation report, closure — 13 days domestic, 17 foreign),
    quality told. ``shipment_line`` (one of the customer's shipments) fills order, product, lot,
    serial, date and quantity; give a quantity or ``quantity_pending``."""
    data = _relations(_complaint_input(payload.model_dump(exclude_unset=True)))
    if data.get("feedback") is not None:
        data["feedback"] = _visible(Feedback, request, data["feedback"].pk, "feedback")
    try:
        complaint = workflow.register_complaint(request.auth, **data)
    except NotFound as exc:  # the customer is outside the caller's customer scope
        raise _invalid("customer", _(INVALID_CHOICE)) from exc
    return _complaint_answer(complaint, 201, request)


@complaints.router.patch(
    "/complaints/{int:pk}/",
    response={200: ComplaintDetail, 412: ErrorOut, **WRITE_ERRORS},
    url_name="complaints-update",
    operation_id="complaints_update",
    summary="Correct a complaint's registration",
)
def update_complaint(request, pk: int, payload: ComplaintUpdate):
    """Correct registration fields while the case is open (complaints.change); the complaint is a
    controlled record: ``reason`` is required, ``version`` (or If-Match) too."""
    from qcare.api.crud import require_reason

    obj = complaints.get(request, pk)
    data = payload.model_dump(exclude_unset=True)
    version = expected_version(request, obj, data.pop("version", None))
    reason = require_reason(Complaint, data.pop("reason", None))
    data = _relations(_complaint_input(data))
    _versioned_call(
        request,
        lambda: workflow.update_complaint(
            request.auth, obj, data=data, reason=reason, expected_version=version
        ),
    )
    return _complaint_answer(obj)


@complaints.action("triage", ComplaintTriageIn, summary="Triage the complaint")
def triage(request, complaint, payload):
    """Severity, category, human-error flag and the owner in quality (complaints.triage). A major
    complaint (severity, claimed amount or regulated product, R-CO-5) goes to the deputy GM at once."""
    owner = _lookup(User, payload.owner, "owner")
    version = _action_version(request, complaint, payload.version)
    return _versioned_call(
        request,
        lambda: workflow.triage_complaint(
            request.auth,
            complaint,
            severity=str(payload.severity),
            category=str(payload.category),
            owner=owner,
            human_error=payload.human_error,
            expected_version=version,
        ),
    )


@complaints.action("start-investigation", ComplaintDepartmentsIn, summary="Start the investigation")
def start_investigation(request, complaint, payload):
    """Quality starts the investigation (complaints.investigate); ``departments`` (ids) are asked
    for findings and see the complaint from then on. The report is due in 3 working days."""
    departments = _departments(payload.departments)
    return workflow.start_investigation(request.auth, complaint, departments=departments)


@complaints.action("request-findings", ComplaintDepartmentsIn, summary="Ask more departments for findings")
def request_findings(request, complaint, payload):
    """Ask further departments (ids) for findings while the case is investigated."""
    departments = _departments(payload.departments)
    return workflow.request_findings(request.auth, complaint, departments=departments)


@complaints.action("findings", ComplaintFindingIn, summary="Add your department's findings")
def add_finding(request, complaint, payload):
    """Your department's contribution to the investigation (complaints.investigate): fills the
    finding requested from it, or adds one."""
    workflow.add_finding(request.auth, complaint, text=payload.text)
    return complaint


@complaints.action(
    "investigation-report", ComplaintInvestigationReportIn, summary="Submit the investigation report"
)
def investigation_report(request, complaint, payload):
    """The investigation report (complaints.investigate); meets the investigation deadline."""
    return workflow.submit_investigation_report(request.auth, complaint, report=payload.report)


@complaints.action("responsibility", ComplaintResponsibilityIn, summary="Root cause and responsibility")
def responsibility(request, complaint, payload):
    """Root cause, cause category and the responsible departments / persons / supplier with shares
    that add up to exactly 100 % (complaints.investigate). Sent again, it replaces the parties.
    Repeated complaints (same product and cause) are flagged."""
    parties = []
    for index, party in enumerate(payload.parties):
        data = party.model_dump()
        data["kind"] = str(data["kind"])
        try:
            data = _relations(data, {"department": Department, "person": User})
        except ValidationFailed as exc:
            raise ValidationFailed(
                exc.message, errors={f"parties.{index}.{k}": v for k, v in exc.errors.items()}
            ) from exc
        parties.append(data)
    version = _action_version(request, complaint, payload.version)
    return _versioned_call(
        request,
        lambda: workflow.set_responsibility(
            request.auth,
            complaint,
            root_cause=payload.root_cause,
            cause_category=str(payload.cause_category),
            parties=parties,
            expected_version=version,
        ),
    )


@complaints.action("disposition", ComplaintDispositionIn, summary="Propose the disposition")
def disposition(request, complaint, payload):
    """Propose the disposition (replace, return, rework, allowance, compensation, no fault) with the
    loss amount (complaints.investigate); the loss is allocated by the shares, the approval band
    follows from the amount and the approvers are told."""
    return workflow.propose_disposition(
        request.auth,
        complaint,
        disposition=str(payload.disposition),
        details=payload.details,
        loss_amount=payload.loss_amount,
        quantity=payload.quantity,
    )


@complaints.action("approve", DispositionApproveIn, summary="Approve the disposition (e-signature)")
def approve(request, complaint, payload):
    """Approve with your password (complaints.approve) within your approval band (sales manager /
    deputy GM / GM by loss amount); above it → 403 and nothing changes."""
    return workflow.approve_disposition(
        request.auth, complaint, password=payload.password, comment=payload.comment, username=payload.username
    )


@complaints.action("reject", DispositionRejectIn, summary="Reject the disposition (e-signature)")
def reject(request, complaint, payload):
    """Reject with your password and the reason: back to root cause and responsibility."""
    return workflow.reject_disposition(
        request.auth, complaint, password=payload.password, reason=payload.reason, username=payload.username
    )


@complaints.action("replies", ComplaintReplyIn, summary="Record a reply to the customer")
def reply(request, complaint, payload):
    """A reply given to the customer (complaints.change): first written answer or other contact at
    any time; the reply with the disposition once it is approved (→ replied)."""
    workflow.record_reply(
        request.auth,
        complaint,
        kind=str(payload.kind),
        channel=str(payload.channel),
        replied_on=payload.replied_on,
        text=payload.text,
    )
    return complaint


@complaints.action("customer-response", ComplaintCustomerResponseIn, summary="Record the customer's answer")
def customer_response(request, complaint, payload):
    """The customer accepts (the case closes; a late closure needs ``overdue_reason``) or rejects
    the reply (the case ends rejected and a follow-up complaint is opened: see ``follow_ups``)."""
    workflow.record_customer_response(
        request.auth,
        complaint,
        accepted=payload.accepted,
        response=payload.response,
        overdue_reason=payload.overdue_reason,
    )
    return complaint


@complaints.action("not-substantiated", ComplaintNotSubstantiatedIn, summary="Close as not substantiated")
def not_substantiated(request, complaint, payload):
    """Close the case with the reason (complaints.close); needs a reply recorded and, for a
    regulated product, the reportability decision."""
    return workflow.close_not_substantiated(
        request.auth, complaint, reason=payload.reason, overdue_reason=payload.overdue_reason
    )


@complaints.action("reportability", ComplaintReportabilityIn, summary="Decide reportability (e-signature)")
def reportability(request, complaint, payload):
    """The documented reportability decision (R-CO-9, complaints.close): every question answered,
    the outcome with its rationale and, when reportable, the basis and the authority (the report
    deadline follows from the basis). Signed with your password; sent again before closure it
    replaces the decision."""
    workflow.decide_reportability(
        request.auth,
        complaint,
        answers={str(k): v for k, v in payload.answers.items()},
        outcome=str(payload.outcome),
        rationale=payload.rationale,
        basis=str(payload.basis),
        authority=payload.authority,
        password=payload.password,
        username=payload.username,
    )
    return complaint


@complaints.action(
    "authority-report", ComplaintAuthorityReportIn, summary="Record the report to the authority"
)
def authority_report(request, complaint, payload):
    """Record that the report was sent to the authority (complaints.close)."""
    workflow.record_authority_report(
        request.auth, complaint, sent_at=payload.sent_at, reference=payload.reference
    )
    return complaint


@complaints.router.post(
    "/complaints/{int:pk}/follow-up/",
    response={201: ComplaintDetail, **WRITE_ERRORS},
    operation_id="complaints_follow_up",
    summary="Open a follow-up complaint",
)
def follow_up(request, pk: int, payload: ComplaintFollowUpIn):
    """A new complaint linked to this finished one (same customer, product, lot, order). Refused
    (409) while the complaint is open: add to it instead."""
    complaint = complaints.get(request, pk)
    new = workflow.open_follow_up(
        request.auth,
        complaint,
        description=payload.description,
        channel=str(payload.channel) if payload.channel else None,
    )
    return _complaint_answer(new, 201, request)


@complaints.router.post(
    "/complaints/{int:pk}/capa/",
    response={201: CapaDetail, **WRITE_ERRORS},
    operation_id="complaints_capa",
    summary="Open a CAPA for the repeated complaints",
)
def capa_for_repeats(request, pk: int, payload: RepeatCapaIn):
    """One click from a repeat flag (capa.add, R-CO-6): a CAPA for the whole repeat group (same
    product and cause category within the policy window), title and problem prefilled; owned by
    you (when you may work on CAPAs), the complaint's owner, or ``owner``."""
    complaint = complaints.get(request, pk)
    owner = _lookup(User, payload.owner, "owner")
    capa = capa_services.open_capa_for_repeats(request.auth, complaint, owner=owner)
    return _capa_answer(capa, 201, request)


router.add_router("", complaints.router)


# --- CAPA -----------------------------------------------------------------------------------
CAPA_FIELDS = tuple(CapaOut.model_fields)
CAPA_DETAIL_FIELDS = CAPA_FIELDS + (
    "problem",
    "containment",
    "why_analysis",
    "fishbone",
    "root_cause",
    "verification",
    "verified_by",
    "cancel_reason",
)
ACTION_FIELDS = (
    "id",
    "capa",
    "kind",
    "description",
    "owner",
    "due_on",
    "status",
    "result",
    "done_at",
    "version",
)


def action_row(action):
    return {**row_of(action, ACTION_FIELDS), "owner_name": _name(action.owner)}


def capa_detail(capa):
    capa = Capa.objects.get(pk=capa.pk)
    data = row_of(capa, CAPA_DETAIL_FIELDS)
    data.update(
        status_display=_display(capa, "status"),
        complaints=_refs(capa.complaints.order_by("received_at", "id")),
        actions=[action_row(a) for a in capa.actions.select_related("owner").order_by("due_on", "id")],
        signatures=_signatures(capa),
    )
    return data


capas = Resource(
    Capa,
    "capas",
    out=CapaOut,
    detail_out=CapaDetail,
    list_fields=CAPA_FIELDS,
    detail=capa_detail,
    list_query=CapaListQuery,
    search_fields=("number", "title"),
    filters={"status": "status", "source": "source", "owner": "owner_id", "product": "product_id"},
    tags=TAGS,
)


def _capa_answer(obj, status=200, request=None):
    obj = Capa.objects.get(pk=obj.pk)
    if status == 201:
        return _created(request, capa_detail(obj), obj, path="/api/capas/")
    return json_response(capa_detail(obj), obj=obj)


@capas.router.post(
    "/capas/",
    response={201: CapaDetail, **WRITE_ERRORS},
    operation_id="capas_create",
    summary="Open a CAPA",
)
def create_capa(request, payload: CapaCreate):
    """Open a corrective and preventive action (capa.add, R-CO-6) from a complaint, a group of
    complaints, feedback or otherwise; numbered ``CA-{YYYY}-{NNNN}``; linked complaints point to it."""
    data = _enum_codes(payload.model_dump(), "source", "cause_category")
    data["complaints"] = [
        _visible(Complaint, request, pk, f"complaints.{i}") for i, pk in enumerate(data.get("complaints", []))
    ]
    if data.get("feedback") is not None:
        data["feedback"] = _visible(Feedback, request, data["feedback"], "feedback")
    data = _relations(data, {"owner": User, "product": Product})
    capa = capa_services.open_capa(request.auth, **data)
    return _capa_answer(capa, 201, request)


@capas.action("analysis", CapaAnalysisIn, summary="Record the root-cause analysis")
def analysis(request, capa, payload):
    """Containment, 5-why chain (up to five), fishbone categories and the root cause (capa.change)."""
    version = _action_version(request, capa, payload.version)
    return _versioned_call(
        request,
        lambda: capa_services.update_analysis(
            request.auth,
            capa,
            containment=payload.containment,
            why_analysis=list(payload.why_analysis),
            fishbone={str(k): v for k, v in payload.fishbone.items()},
            root_cause=payload.root_cause,
            expected_version=version,
        ),
    )


@capas.router.post(
    "/capas/{int:pk}/actions/",
    response={201: CapaActionOut, **WRITE_ERRORS},
    operation_id="capas_actions_create",
    summary="Add an action",
)
def add_action(request, pk: int, payload: CapaActionIn):
    """An action with owner and due date (capa.change); the owner is told and reminded before it is
    due. The CAPA moves to "actions in progress" with its first action."""
    capa = capas.get(request, pk)
    owner = _lookup(User, payload.owner, "owner")
    action = capa_services.add_action(
        request.auth,
        capa,
        kind=str(payload.kind),
        description=payload.description,
        owner=owner,
        due_on=payload.due_on,
    )
    action = CapaAction.objects.select_related("owner").get(pk=action.pk)
    return _created(request, action_row(action), action)


def _action_of(request, pk, aid):
    capa = capas.get(request, pk)
    if not 0 < aid <= MAX_ID:
        raise NotFound()
    action = capa.actions.select_related("owner").filter(pk=aid).first()
    if action is None:
        raise NotFound()
    return action


@capas.router.post(
    "/capas/{int:pk}/actions/{int:aid}/complete/",
    response={200: CapaActionOut, **WRITE_ERRORS},
    operation_id="capas_actions_complete",
    summary="Complete an action",
)
def complete_action(request, pk: int, aid: int, payload: CapaActionResultIn):
    """Record the result of the action (its owner or the CAPA owner)."""
    action = _action_of(request, pk, aid)
    capa_services.complete_action(request.auth, action, result=payload.result)
    action = CapaAction.objects.select_related("owner").get(pk=action.pk)
    return json_response(action_row(action), obj=action)


@capas.router.post(
    "/capas/{int:pk}/actions/{int:aid}/cancel/",
    response={200: CapaActionOut, **WRITE_ERRORS},
    operation_id="capas_actions_cancel",
    summary="Cancel an action",
)
def cancel_action(request, pk: int, aid: int, payload: ComplaintsReasonIn):
    """Cancel an open action with the reason (capa.change)."""
    action = _action_of(request, pk, aid)
    capa_services.cancel_action(request.auth, action, reason=payload.reason)
    action = CapaAction.objects.select_related("owner").get(pk=action.pk)
    return json_response(action_row(action), obj=action)


@capas.action("submit-verification", summary="Submit for verification")
def submit_verification(request, capa, payload):
    """Every action done or cancelled (at least one done) and the root cause written: quality is
    asked to verify effectiveness."""
    return capa_services.submit_for_verification(request.auth, capa)


@capas.action("verify", CapaVerifyIn, summary="Verify effectiveness (e-signature)")
def verify(request, capa, payload):
    """Quality's verification of effectiveness (capa.verify), signed: effective → closed; not
    effective → back to actions in progress."""
    return capa_services.verify_capa(
        request.auth,
        capa,
        effective=payload.effective,
        verification=payload.verification,
        password=payload.password,
        username=payload.username,
    )


@capas.action("cancel", ComplaintsReasonIn, summary="Cancel the CAPA")
def cancel_capa(request, capa, payload):
    """Cancel the CAPA with the reason (capa.change)."""
    return capa_services.cancel_capa(request.auth, capa, reason=payload.reason)


router.add_router("", capas.router)


# --- returns and settlements ----------------------------------------------------------------
RETURN_FIELDS = tuple(ReturnOut.model_fields)


def return_detail(note):
    note = ReturnNote.objects.select_related("complaint").get(pk=note.pk)
    data = row_of(note, RETURN_FIELDS)
    data.update(
        status_display=_display(note, "status"),
        complaint_number=note.complaint.number,
        signatures=_signatures(note),
    )
    return data


returns = Resource(
    ReturnNote,
    "returns",
    out=ReturnOut,
    detail_out=ReturnDetail,
    list_fields=RETURN_FIELDS,
    detail=return_detail,
    list_query=ReturnListQuery,
    search_fields=("number", "complaint__number", "lot_number"),
    filters={"status": "status", "complaint": "complaint_id", "customer": "customer_id"},
    tags=TAGS,
)


@returns.router.post(
    "/returns/",
    response={201: ReturnDetail, **WRITE_ERRORS},
    operation_id="returns_create",
    summary="Issue a return note",
)
def create_return(request, payload: ReturnCreate):
    """A return note (退货单, returns.add, R-CO-7) from an approved disposition (return, replace or
    rework): the approved quantity — all return notes of the complaint together at most the
    disposition quantity — reason and what happens to the goods. The warehouse is told."""
    complaint = _visible(Complaint, request, payload.complaint, "complaint")
    note = return_services.issue_return(
        request.auth,
        complaint,
        approved_quantity=payload.approved_quantity,
        reason=payload.reason,
        disposition=str(payload.disposition),
        basis=payload.basis,
    )
    note = ReturnNote.objects.get(pk=note.pk)
    return _created(request, return_detail(note), note, path="/api/returns/")


@returns.action("receive", ReturnReceiveIn, summary="Receive the goods (e-signature)")
def receive(request, note, payload):
    """The warehouse records the quantity received, signed with the password (returns.receive);
    quality is asked to inspect."""
    return return_services.receive_return(
        request.auth,
        note,
        received_quantity=payload.received_quantity,
        password=payload.password,
        username=payload.username,
    )


@returns.action("inspect", ReturnInspectIn, summary="Inspect the goods")
def inspect(request, note, payload):
    """Quality's inspection and quality abnormality report (品质异常处理报告, returns.inspect)."""
    return return_services.inspect_return(request.auth, note, report=payload.report)


@returns.action("post", ReturnPostIn, summary="Post the return")
def post_return(request, note, payload):
    """Accounting posts the return (returns.post) when the received quantity equals the approved
    one within the tolerance (the customer's, else the policy's); otherwise it is escalated
    (status ``escalated`` with the reason) to the management representative and sales manager."""
    return return_services.post_return(request.auth, note, comment=payload.comment)


@returns.action("resolve", ReturnResolveIn, summary="Resolve an escalated return")
def resolve(request, note, payload):
    """Post an escalated return anyway (``post``: true) or cancel it, with the reason (returns.post)."""
    return return_services.resolve_escalated_return(
        request.auth, note, post=payload.post, reason=payload.reason
    )


@returns.action("cancel", ComplaintsReasonIn, summary="Cancel the return note")
def cancel_return(request, note, payload):
    """Cancel a return note awaiting goods, with the reason (returns.add); its quantity becomes
    available again."""
    return return_services.cancel_return(request.auth, note, reason=payload.reason)


router.add_router("", returns.router)

SETTLEMENT_FIELDS = tuple(SettlementOut.model_fields)
settlements = Resource(
    Settlement,
    "settlements",
    out=SettlementOut,
    list_fields=SETTLEMENT_FIELDS,
    list_query=SettlementListQuery,
    search_fields=("complaint__number", "finance_reference"),
    filters={
        "status": "status",
        "kind": "kind",
        "complaint": "complaint_id",
        "customer": "customer_id",
    },
    tags=TAGS,
)


@settlements.router.post(
    "/settlements/",
    response={201: SettlementOut, **WRITE_ERRORS},
    operation_id="settlements_create",
    summary="Record an allowance or compensation",
)
def create_settlement(request, payload: SettlementCreate):
    """An allowance (销货折让) or compensation (赔款) for finance from an approved disposition of that
    kind (returns.add); all of a complaint's together at most its loss amount."""
    complaint = _visible(Complaint, request, payload.complaint, "complaint")
    settlement = return_services.record_settlement(
        request.auth,
        complaint,
        kind=str(payload.kind),
        amount=payload.amount,
        currency=payload.currency,
        description=payload.description,
    )
    settlement = Settlement.objects.get(pk=settlement.pk)
    return _created(request, row_of(settlement, SETTLEMENT_FIELDS), settlement, path="/api/settlements/")


@settlements.action("settle", SettlementSettleIn, summary="Settle (finance)")
def settle(request, settlement, payload):
    """Finance records the voucher or credit note (returns.post)."""
    return return_services.settle(request.auth, settlement, finance_reference=payload.finance_reference)


@settlements.action("cancel", ComplaintsReasonIn, summary="Cancel the allowance / compensation")
def cancel_settlement(request, settlement, payload):
    """Cancel an open allowance or compensation with the reason."""
    return return_services.cancel_settlement(request.auth, settlement, reason=payload.reason)


router.add_router("", settlements.router)


# --- advisory notices -----------------------------------------------------------------------
NOTICE_FIELDS = tuple(AdvisoryNoticeOut.model_fields)
NOTICE_DETAIL_FIELDS = NOTICE_FIELDS + (
    "reason",
    "risk_description",
    "action_required",
    "authority_name",
    "authority_notified_at",
    "authority_reference",
    "close_comment",
)
RECIPIENT_FIELDS = (
    "id",
    "notice",
    "customer",
    "shipments",
    "quantity_shipped",
    "sent_at",
    "acknowledged_at",
    "acknowledged_by_name",
    "action",
    "quantity_accounted",
    "action_at",
    "action_comment",
    "recorded_by",
    "remind_at",
    "reminder_count",
    "last_reminded_at",
    "version",
)


def _complete_q():
    return Q(acknowledged_at__isnull=False) & ~Q(action="")


def notice_detail(notice, user=None):
    notice = AdvisoryNotice.objects.get(pk=notice.pk)
    data = row_of(notice, NOTICE_DETAIL_FIELDS)
    recipients = notice.recipients.all()
    if user is not None:  # a portal user counts only their own company's row
        recipients = NoticeRecipient.objects.restrict(user, "view").filter(notice=notice)
    data.update(
        status_display=_display(notice, "status"),
        items=[
            {
                **row_of(i, ("id", "product", "lot_number", "serial_number")),
                "product_code": i.product.code,
                "product_name": i.product.name,
            }
            for i in notice.items.select_related("product").order_by("id")
        ],
        recipients=recipients.count(),
        recipients_complete=recipients.filter(_complete_q()).count(),
        signatures=_signatures(notice),
    )
    return data


class NoticeResource(Resource):
    """Notices: the detail counts only the recipients the caller may see."""

    def _add_retrieve(self):
        @self.router.get(
            "/notices/{int:pk}/",
            response={200: AdvisoryNoticeDetail, **READ_ERRORS},
            url_name="notices-detail",
            operation_id="notices_retrieve",
            summary="Retrieve a notice",
        )
        def retrieve(request, pk: int):
            """The notice with its text, affected lots/serials, the number of customers reached
            and complete, the authority notification and the issuer's signature."""
            obj = self.get(request, pk)
            return json_response(notice_detail(obj, request.auth), obj=obj)


notices = NoticeResource(
    AdvisoryNotice,
    "notices",
    out=AdvisoryNoticeOut,
    detail_out=AdvisoryNoticeDetail,
    list_fields=NOTICE_FIELDS,
    detail=notice_detail,
    list_query=NoticeListQuery,
    search_fields=("number", "title"),
    filters={"status": "status", "kind": "kind"},
    tags=TAGS,
)


def _notice_answer(request, obj, status=200):
    obj = AdvisoryNotice.objects.get(pk=obj.pk)
    if status == 201:
        return _created(request, notice_detail(obj), obj, path="/api/notices/")
    return json_response(notice_detail(obj, request.auth), obj=obj)


def _notice_items(items):
    rows = []
    for index, item in enumerate(items):
        product = _lookup(Product, item["product"], f"items.{index}.product")
        rows.append({**item, "product": product})
    return rows


@notices.router.post(
    "/notices/",
    response={201: AdvisoryNoticeDetail, **WRITE_ERRORS},
    operation_id="notices_create",
    summary="Draft an advisory notice or recall",
)
def create_notice(request, payload: NoticeCreate):
    """Draft an advisory notice or recall (notices.add, R-CO-10), numbered ``AN-{YYYY}-{NNN}``, with
    the affected products and lots/serials; see the customers it would reach with
    ``GET …/affected-customers/`` before it is issued."""
    data = _enum_codes(payload.model_dump(), "kind", "risk")
    data["items"] = _notice_items(data["items"])
    if data.get("complaint") is not None:
        data["complaint"] = _visible(Complaint, request, data["complaint"], "complaint")
    if data.get("capa") is not None:
        data["capa"] = _visible(Capa, request, data["capa"], "capa")
    notice = notice_services.draft_notice(request.auth, **data)
    return _notice_answer(request, notice, 201)


@notices.router.patch(
    "/notices/{int:pk}/",
    response={200: AdvisoryNoticeDetail, 412: ErrorOut, **WRITE_ERRORS},
    operation_id="notices_update",
    summary="Change a draft notice",
)
def update_notice(request, pk: int, payload: NoticeUpdate):
    """Change a draft (notices.add); send ``version`` (or If-Match); ``items`` replaces the units."""
    notice = notices.get(request, pk)
    data = payload.model_dump(exclude_unset=True)
    version = expected_version(request, notice, data.pop("version", None))
    items = data.pop("items", None)
    items = _notice_items(items) if items is not None else None
    data = _enum_codes(data, "kind", "risk")
    _versioned_call(
        request,
        lambda: notice_services.update_notice(
            request.auth, notice, data=data, items=items, expected_version=version
        ),
    )
    return _notice_answer(request, notice)


def _require_notice_staff(user):
    """Affected customers and effectiveness are internal figures (not for the portal)."""
    if not (
        has_perm(user, "notices.track") or has_perm(user, "notices.issue") or has_perm(user, "notices.add")
    ):
        raise NotPermitted()


@notices.router.get(
    "/notices/{int:pk}/affected-customers/",
    response={200: list[NoticeAffectedCustomerOut], **READ_ERRORS},
    operation_id="notices_affected_customers",
    summary="Customers who received the affected units",
)
def affected_customers(request, pk: int):
    """Every customer who received the notice's products and lots/serials (shipment traceability,
    R-OR-11) with their shipments and quantities: whom the notice reaches when issued."""
    notice = notices.get(request, pk)
    _require_notice_staff(request.auth)
    rows = notice_services.affected_customers(notice)
    return json_response(
        [
            {
                "customer": row.get("customer_id", row.get("customer")),
                "code": row.get("code", row.get("customer_code", "")),
                "name": row.get("name", row.get("customer_name", "")),
                "quantity": row.get("quantity", Decimal(0)),
                "shipments": list(row.get("shipments", [])),
            }
            for row in rows
        ]
    )


@notices.action("issue", NoticeIssueIn, summary="Issue the notice (e-signature)")
def issue(request, notice, payload):
    """The management representative issues and signs the notice (notices.issue): one recipient per
    affected customer, e-mailed to their contacts in their language, reminded until complete.
    Refused (409) when no customer received the affected units."""
    return notice_services.issue_notice(
        request.auth, notice, password=payload.password, username=payload.username
    )


@notices.action(
    "authority-notification", AuthorityNotificationIn, summary="Record the authority notification"
)
def authority_notification(request, notice, payload):
    """Record that the authority was notified (notices.track)."""
    return notice_services.record_authority_notification(
        request.auth,
        notice,
        authority_name=payload.authority_name,
        notified_at=payload.notified_at,
        reference=payload.reference,
    )


@notices.action("close", NoticeCloseIn, summary="Close the notice")
def close_notice(request, notice, payload):
    """Close the notice; while customers are incomplete a comment must explain why."""
    return notice_services.close_notice(request.auth, notice, comment=payload.comment)


@notices.action("cancel", ComplaintsReasonIn, summary="Cancel a draft notice")
def cancel_notice(request, notice, payload):
    """Cancel a notice that was not issued, with the reason."""
    return notice_services.cancel_notice(request.auth, notice, reason=payload.reason)


@notices.router.get(
    "/notices/{int:pk}/effectiveness/",
    response={200: NoticeEffectivenessOut, **READ_ERRORS},
    operation_id="notices_effectiveness",
    summary="Effectiveness of the notice",
)
def effectiveness(request, pk: int):
    """Customers reached, acknowledged and complete; units shipped and accounted for, and their
    share in percent (R-CO-10)."""
    notice = notices.get(request, pk)
    _require_notice_staff(request.auth)
    return json_response(notice_services.effectiveness(notice))


def recipient_row(recipient):
    row = row_of(recipient, RECIPIENT_FIELDS)
    row.update(
        customer_code=recipient.customer.code,
        customer_name=recipient.customer.name,
        is_complete=recipient.is_complete,
    )
    return row


@notices.router.get(
    "/notices/{int:pk}/recipients/",
    response={200: Page[NoticeRecipientOut], 400: ErrorOut, **READ_ERRORS},
    operation_id="notices_recipients_list",
    summary="Customers the notice went to",
)
def list_recipients(request, pk: int, query: Query[RecipientListQuery]):
    """Each affected customer with the shipments it received, when it was told, its
    acknowledgement, action and units accounted for (portal users: their own company only).
    ``complete`` filters complete / incomplete customers."""
    notice = notices.get(request, pk)
    queryset = NoticeRecipient.objects.restrict(request.auth, "view").filter(notice=notice)
    if query.complete is not None:
        queryset = queryset.filter(_complete_q()) if query.complete else queryset.exclude(_complete_q())
    queryset = queryset.select_related("customer").order_by("customer__code", "id")
    page = _page(request, queryset, query.page, query.page_size, lambda qs: [recipient_row(r) for r in qs])
    return json_response(page)


@notices.router.post(
    "/notices/{int:pk}/recipients/{int:rid}/acknowledgement/",
    response={200: NoticeRecipientOut, **WRITE_ERRORS},
    operation_id="notices_recipients_acknowledgement",
    summary="Record a customer's acknowledgement and action",
)
def acknowledgement(request, pk: int, rid: int, payload: NoticeAcknowledgementIn):
    """Who acknowledged the notice at the customer, when, what was done with the units (returned /
    corrected / destroyed / none) and how many are accounted for (notices.track). Acknowledgement
    and action together complete the customer and stop the reminders."""
    notice = notices.get(request, pk)
    if not 0 < rid <= MAX_ID:
        raise NotFound()
    recipient = NoticeRecipient.objects.restrict(request.auth, "view").filter(pk=rid, notice=notice).first()
    if recipient is None:
        raise NotFound()
    notice_services.record_acknowledgement(
        request.auth,
        recipient,
        acknowledged_by_name=payload.acknowledged_by_name,
        acknowledged_at=payload.acknowledged_at,
        action=str(payload.action),
        quantity_accounted=payload.quantity_accounted,
        comment=payload.comment,
    )
    recipient = NoticeRecipient.objects.select_related("customer").get(pk=recipient.pk)
    return json_response(recipient_row(recipient), obj=recipient)


router.add_router("", notices.router)


# --- reports --------------------------------------------------------------------------------
def _require_report(user):
    if not has_perm(user, "complaints.report"):
        raise NotPermitted()


@router.get(
    "/reports/complaints/statistics/",
    response={200: ComplaintStatisticsOut, 400: ErrorOut, **READ_ERRORS},
    operation_id="reports_complaints_statistics",
    summary="Complaint statistics",
)
def statistics(request, query: Query[ComplaintStatisticsQuery]):
    """Complaint statistics for the months ``period_from``…``period_to`` (R-CO-11, complaints.report):
    by month, customer, product, category, cause and responsible department, the Pareto of causes,
    on-time closure rate, average days to close, repeat rate and cost. Filters: ``customer``,
    ``product``, ``category``, ``department``. Counts only complaints within your scope."""
    _require_report(request.auth)
    if query.period_from > query.period_to:
        raise _invalid("period_to", _("The last month must not be before the first month."))
    data = reports.complaint_statistics(
        request.auth,
        period_from=query.period_from,
        period_to=query.period_to,
        customer=_lookup(Customer, query.customer, "customer"),
        product=_lookup(Product, query.product, "product"),
        category=str(query.category) if query.category else None,
        department=_lookup(Department, query.department, "department"),
    )
    return json_response({"period_from": query.period_from, "period_to": query.period_to, "data": data})


@router.get(
    "/reports/complaints/responsibility/{period}/",
    response={200: ResponsibilityReportOut, 400: ErrorOut, **READ_ERRORS},
    operation_id="reports_complaints_responsibility",
    summary="Monthly responsibility report",
)
def responsibility_report(request, period: str):
    """The responsibility report (责任报告, R-CO-8) of the month ``period`` (YYYY-MM): closed cases,
    responsibility ratios by department, cost and timeliness. The stored report generated on the 1st
    when there is one, otherwise computed now (complaints.report)."""
    _require_report(request.auth)
    if len(period) != 7 or not (period[:4].isdigit() and period[4] == "-" and period[5:] in MONTHS):
        raise _invalid("period", _("Enter a month as YYYY-MM."))
    report = ResponsibilityReport.objects.filter(period=period).first()
    if report is not None:
        data = {
            "period": period,
            "stored": True,
            "generated_at": report.generated_at,
            "due_on": report.due_on,
            "delivered_at": report.delivered_at,
            "acknowledged_at": report.acknowledged_at,
            "data": report.data,
        }
    else:
        data = {
            "period": period,
            "stored": False,
            "generated_at": None,
            "due_on": None,
            "delivered_at": None,
            "acknowledged_at": None,
            "data": reports.responsibility_report_data(period),
        }
    return json_response(data)


MONTHS = {f"{m:02d}" for m in range(1, 13)}


# --- documentation of the generated operations ---------------------------------------------
HISTORY = "The record's audit trail (who changed what, when and why), newest first, paginated."
_describe(
    feedback,
    {
        "feedback_list": (
            "List the feedback register",
            "Feedback (顾客信息反馈单) in your scope, newest first; filters ``status``, ``kind``, "
            "``channel``, ``customer``, ``owner``, ``product``; ``search`` finds numbers, subjects and "
            "customers.",
        ),
        "feedback_retrieve": (
            "Retrieve a feedback entry",
            "The entry with content, answer, first-answer deadline and what it was converted into.",
        ),
        "feedback_history": ("History of a feedback entry", HISTORY),
    },
)
_describe(
    complaints,
    {
        "complaints_retrieve": (
            "Retrieve a complaint",
            "The case file: registration, triage, deadlines with their reminder chain, status "
            "changes, findings, root cause and responsibility shares with allocated loss, "
            "disposition and approval signatures, replies, the customer's answer, the "
            "reportability decision, follow-ups, returns and settlements, and what still prevents "
            "closing.",
        ),
        "complaints_history": ("History of a complaint", HISTORY),
    },
)
_describe(
    capas,
    {
        "capas_list": (
            "List CAPAs",
            "CAPAs (纠正和预防措施) in your scope, newest first; filters ``status``, ``source``, "
            "``owner``, ``product``; ``search`` finds numbers and titles.",
        ),
        "capas_retrieve": (
            "Retrieve a CAPA",
            "The problem, containment, 5-why and fishbone analysis, root cause, actions, linked "
            "complaints and the verification signature.",
        ),
        "capas_history": ("History of a CAPA", HISTORY),
    },
)
_describe(
    returns,
    {
        "returns_list": (
            "List return notes",
            "Return notes (退货单) in your scope, newest first; filters ``status``, ``complaint``, "
            "``customer``; ``search`` finds return and complaint numbers and lots.",
        ),
        "returns_retrieve": (
            "Retrieve a return note",
            "Approved and received quantities, inspection report, tolerance, escalation, posting "
            "and the warehouse's receipt signature.",
        ),
        "returns_history": ("History of a return note", HISTORY),
    },
)
_describe(
    settlements,
    {
        "settlements_list": (
            "List allowances and compensations",
            "Allowances (折让) and compensations (赔款) for finance, newest first; filters "
            "``status``, ``kind``, ``complaint``, ``customer``.",
        ),
        "settlements_retrieve": (
            "Retrieve an allowance or compensation",
            "Amount, status and finance reference.",
        ),
        "settlements_history": ("History of an allowance or compensation", HISTORY),
    },
)
_describe(
    notices,
    {
        "notices_list": (
            "List advisory notices and recalls",
            "Advisory notices and recalls (忠告性通知/召回), newest first (portal users: the ones sent "
            "to their company); filters ``status``, ``kind``; ``search`` finds numbers and titles.",
        ),
        "notices_history": ("History of a notice", HISTORY),
    },
)
