"""Services of the feedback register (顾客信息反馈单 / 顾客信息登记表, SPEC R-CO-1).

Any internal user logs what a customer told us, from any channel (:func:`log_feedback`), or
turns an entry of the customer's communication log into feedback
(:func:`feedback_from_communication`). The first answer is due ``feedback.first_answer``
(8 working hours by the business calendar) after receipt; the reminder job (owner "jobs")
reminds at ``remind_at`` and escalates at ``escalate_at``. Each entry is then answered
(:func:`answer_feedback`), closed with a reason (:func:`close_feedback`, e.g. praise noted) or
converted into a complaint (:func:`convert_feedback_to_complaint`) or a CAPA
(:func:`convert_feedback_to_capa`). Conversion into a customer requirement comes with the
requirements module (a later issue); until then there is no such service on purpose.

Every function checks permission and state, raises a translated DomainError, works in one
transaction inside ``audit_context`` and queues its notifications in that transaction.
"""

from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.accounts.permissions import has_perm, require_perm
from qcare.complaints.choices import (
    CapaSource,
    Channel,
    ConvertedTo,
    FeedbackKind,
    FeedbackStatus,
    ReplyChannel,
)
from qcare.complaints.models import Feedback
from qcare.core import policies
from qcare.core.context import audit_context
from qcare.core.errors import Conflict
from qcare.core.numbering import next_number
from qcare.core.service_helpers import fail as _fail
from qcare.core.service_helpers import lock as _lock
from qcare.core.service_helpers import require_reason as _require_reason
from qcare.core.service_helpers import required as _required
from qcare.notifications.services import notify
from qcare.workcalendar.calendar import add_duration

#: Fields update_feedback accepts in ``data``.
EDITABLE_FIELDS = (
    "channel",
    "kind",
    "subject",
    "content",
    "customer",
    "customer_name",
    "contact",
    "contact_name",
    "contact_phone",
    "product",
    "received_at",
    "owner",
)
#: Statuses in which the entry is still being handled (answered entries may still be converted).
WORKABLE_STATUSES = (FeedbackStatus.OPEN, FeedbackStatus.ANSWERED)

#: How a communication-log entry reached us → the feedback channel.
COMMUNICATION_CHANNELS = {
    "call": Channel.PHONE,
    "letter": Channel.LETTER,
    "fax": Channel.FAX,
    "email": Channel.EMAIL,
    "plant_visit": Channel.VISIT,
    "sales_visit": Channel.VISIT,
    "inquiry": Channel.OTHER,
    "other": Channel.OTHER,
}


# --- helpers ----------------------------------------------------------------------------------
def _status_label(status):
    return str(FeedbackStatus(status).label)


def _require_workable(feedback):
    if feedback.status not in WORKABLE_STATUSES:
        if feedback.status == FeedbackStatus.CONVERTED:
            raise Conflict(
                _("This feedback has already been converted (%(number)s).")
                % {"number": feedback.converted_to_number}
            )
        raise Conflict(
            _("This feedback is “%(status)s”; it cannot be changed any more.")
            % {"status": _status_label(feedback.status)}
        )


def due_dates(received_at):
    """(due_at, remind_at, escalate_at) of the first answer for feedback received at ``received_at``.

    Due ``feedback.first_answer`` after receipt on the business calendar; the reminder goes at
    the deadline and the escalation ``feedback.escalate_after`` later.
    """
    due_at = add_duration(received_at, policies.get("feedback.first_answer"))
    return due_at, due_at, add_duration(due_at, policies.get("feedback.escalate_after"))


def _customer(actor, value, errors):
    """The customer picked, which must lie within the actor's view of the customer file."""
    from qcare.customers.models import Customer

    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, Customer) else value
    customer = Customer.objects.restrict(actor, "view").filter(pk=pk).first() if str(pk).isdigit() else None
    if customer is None:
        errors["customer"] = [
            _("Select a customer from the customer file you can see, or type the customer's name.")
        ]
    return customer


def _contact(value, customer, errors):
    from qcare.customers.models import Contact

    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, Contact) else value
    contact = None
    if customer is not None and str(pk).isdigit():
        contact = Contact.objects.filter(pk=pk, customer=customer).first()
    if contact is None:
        errors["contact"] = [_("Select a contact of this customer.")]
    return contact


def _product(value, errors):
    from qcare.catalog.models import Product

    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, Product) else value
    product = Product.objects.filter(pk=pk).first() if str(pk).isdigit() else None
    if product is None:
        errors["product"] = [_("Select a valid product.")]
    return product


def _owner(value, errors):
    """The user handling the entry: active and allowed to answer feedback."""
    User = get_user_model()
    pk = value.pk if isinstance(value, User) else value
    owner = User.objects.filter(pk=pk, is_active=True).first() if str(pk).isdigit() else None
    if owner is None or not has_perm(owner, "feedback.change"):
        errors["owner"] = [_("Select an active user who may answer customer feedback.")]
        return None
    return owner


def _received_at(value, errors):
    if value in (None, ""):
        return timezone.now()
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            errors["received_at"] = [_("Enter a valid date and time.")]
            return None
    if not isinstance(value, datetime):
        errors["received_at"] = [_("Enter a valid date and time.")]
        return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    if value > timezone.now():
        errors["received_at"] = [_("The time of receipt cannot be in the future.")]
        return None
    return value


def _clean(actor, values, errors, *, customer=None):
    """Validate the values of a feedback entry in place (choices, texts, links).

    ``customer``: the entry's current customer, for a contact given without a customer.
    """
    if "channel" in values and values["channel"] not in Channel.values:
        errors["channel"] = [_("Select a valid choice.")]
    if "kind" in values and values["kind"] not in FeedbackKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    for name, limit in (
        ("subject", 200),
        ("customer_name", 200),
        ("contact_name", 100),
        ("contact_phone", 50),
    ):
        if name in values:
            values[name] = (values[name] or "").strip()
            if len(values[name]) > limit:
                errors[name] = [_("Enter at most %(limit)s characters.") % {"limit": limit}]
    if "subject" in values and not values["subject"]:
        errors["subject"] = _required()
    if "content" in values:
        values["content"] = (values["content"] or "").strip()
        if not values["content"]:
            errors["content"] = _required()
    if "customer" in values:
        values["customer"] = _customer(actor, values["customer"], errors)
    if "contact" in values:
        values["contact"] = _contact(values["contact"], values.get("customer", customer), errors)
        contact = values["contact"]
        if contact is not None:  # the contact's name and phone unless typed
            values["contact_name"] = values.get("contact_name") or contact.name
            values["contact_phone"] = values.get("contact_phone") or contact.phone
    if "product" in values:
        values["product"] = _product(values["product"], errors)
    if "received_at" in values:
        values["received_at"] = _received_at(values["received_at"], errors)
    if "owner" in values:
        values["owner"] = _owner(values["owner"], errors)


def _notify_owner(feedback, actor):
    if feedback.owner_id and feedback.owner_id != actor.pk:
        notify(
            [feedback.owner],
            template="complaints/feedback_assigned",
            context={"feedback": feedback, "actor": actor},
            obj=feedback,
        )


# --- logging (R-CO-1) -------------------------------------------------------------------------
def log_feedback(
    actor,
    *,
    channel,
    kind,
    subject,
    content,
    customer=None,
    customer_name="",
    contact=None,
    contact_name="",
    contact_phone="",
    product=None,
    received_at=None,
    owner=None,
    communication=None,
):
    """Log customer information in the feedback register (``FK-YYYYMM-NNNN``, R-CO-1).

    Any internal user may log (``feedback.add``). ``customer`` must be one the actor can see in
    the customer file; otherwise type ``customer_name``. The actor handles it unless ``owner``
    (a user who may answer feedback) is given — the owner is told. The first answer is due
    ``feedback.first_answer`` working hours after ``received_at`` (default now).
    """
    require_perm(actor, "feedback.add")
    values = {
        "channel": channel,
        "kind": kind,
        "subject": subject,
        "content": content,
        "customer": customer,
        "customer_name": customer_name,
        "contact": contact,
        "contact_name": contact_name,
        "contact_phone": contact_phone,
        "product": product,
        "received_at": received_at,
    }
    if owner is not None:
        values["owner"] = owner
    errors = {}
    _clean(actor, values, errors)
    if values.get("customer") is None and not values["customer_name"] and "customer" not in errors:
        errors["customer"] = [_("Select the customer or type its name.")]
    if errors:
        _fail(errors)
    if values["customer"] is not None and not values["customer_name"]:
        values["customer_name"] = values["customer"].name
    values.setdefault("owner", actor)
    due_at, remind_at, escalate_at = due_dates(values["received_at"])
    with transaction.atomic(), audit_context(actor=actor):
        feedback = Feedback.objects.create(
            number=next_number("feedback"),
            recorded_by=actor,
            department=actor.department,
            due_at=due_at,
            remind_at=remind_at,
            escalate_at=escalate_at,
            communication=communication,
            **values,
        )
        _notify_owner(feedback, actor)
    return feedback


def update_feedback(actor, feedback, *, data, expected_version=None):
    """Correct or complete an entry that is still open or answered (``feedback.change``).

    ``data``: any of EDITABLE_FIELDS. A new time of receipt of an unanswered entry moves its
    first-answer deadline; a new owner is told.
    """
    require_perm(actor, "feedback.change", feedback)
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        _fail({name: [_("This field cannot be changed.")] for name in unknown})
    values = dict(data)
    if "customer" in values and "contact" not in values:
        values["contact"] = None  # the old contact belongs to the old customer
    errors = {}
    _clean(actor, values, errors, customer=feedback.customer)
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor):
        _lock(feedback, expected_version)
        _require_workable(feedback)
        if values.get("customer", feedback.customer) is None and not values.get(
            "customer_name", feedback.customer_name
        ):
            _fail({"customer": [_("Select the customer or type its name.")]})
        old_owner = feedback.owner_id
        changed = [name for name, value in values.items() if getattr(feedback, name) != value]
        for name in changed:
            setattr(feedback, name, values[name])
        if "received_at" in changed and feedback.status == FeedbackStatus.OPEN:
            feedback.due_at, feedback.remind_at, feedback.escalate_at = due_dates(feedback.received_at)
            changed += ["due_at", "remind_at", "escalate_at"]
        if changed:
            feedback.save(update_fields=[*changed, "updated_at"])
        if feedback.owner_id != old_owner:
            _notify_owner(feedback, actor)
    return feedback


# --- answer and close -------------------------------------------------------------------------
def answer_feedback(actor, feedback, *, channel, answer):
    """Record the answer given to the customer (channel and text) → ANSWERED.

    The first answer meets the deadline; whoever logged the entry is told when someone else answers.
    """
    require_perm(actor, "feedback.change", feedback)
    errors = {}
    if channel not in ReplyChannel.values:
        errors["channel"] = [_("Select a valid choice.")]
    answer = (answer or "").strip()
    if not answer:
        errors["answer"] = _required()
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor):
        _lock(feedback)
        if feedback.status == FeedbackStatus.ANSWERED:
            raise Conflict(_("This feedback has already been answered."))
        _require_workable(feedback)
        feedback.answer_channel = channel
        feedback.answer = answer
        feedback.answered_at = timezone.now()
        feedback.answered_by = actor
        feedback.status = FeedbackStatus.ANSWERED
        feedback.save(
            update_fields=["answer_channel", "answer", "answered_at", "answered_by", "status", "updated_at"]
        )
        if feedback.recorded_by_id != actor.pk:
            notify(
                [feedback.recorded_by],
                template="complaints/feedback_answered",
                context={"feedback": feedback, "actor": actor},
                obj=feedback,
            )
    return feedback


def close_feedback(actor, feedback, *, reason):
    """Close an entry that needs nothing more (e.g. praise noted, answered and done) with a reason."""
    require_perm(actor, "feedback.change", feedback)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock(feedback)
        _require_workable(feedback)
        feedback.status = FeedbackStatus.CLOSED
        feedback.close_reason = reason
        feedback.closed_at = timezone.now()
        feedback.closed_by = actor
        feedback.save(update_fields=["status", "close_reason", "closed_at", "closed_by", "updated_at"])
    return feedback


# --- conversion -------------------------------------------------------------------------------
def _mark_converted(feedback, kind, record):
    feedback.status = FeedbackStatus.CONVERTED
    feedback.converted_to = kind
    feedback.converted_to_id = record.pk
    feedback.converted_to_number = record.number
    feedback.save(
        update_fields=["status", "converted_to", "converted_to_id", "converted_to_number", "updated_at"]
    )


def _notify_recorder_converted(feedback, actor, record):
    if feedback.recorded_by_id != actor.pk:
        notify(
            [feedback.recorded_by],
            template="complaints/feedback_converted",
            context={"feedback": feedback, "actor": actor, "record": record},
            obj=feedback,
        )


def convert_feedback_to_complaint(actor, feedback, **complaint_fields):
    """Register a complaint from the entry (``services.register_complaint`` with feedback=…) → CONVERTED.

    The complaint gets the entry's customer, contact, channel, product, time of receipt and
    content as description unless ``complaint_fields`` say otherwise; it links back to the
    entry (``complaint.feedback``) and the entry to it (``converted_to_id``/``_number``).
    A customer from the customer file is required. Needs ``feedback.change`` on the entry and
    ``complaints.add``.
    """
    from qcare.complaints import services

    require_perm(actor, "feedback.change", feedback)
    require_perm(actor, "complaints.add")
    with transaction.atomic(), audit_context(actor=actor):
        _lock(feedback)
        _require_workable(feedback)
        fields = {
            "customer": feedback.customer,
            "channel": feedback.channel,
            "description": feedback.content,
            "received_at": feedback.received_at,
            "contact": feedback.contact,
            "contact_name": feedback.contact_name,
            "contact_phone": feedback.contact_phone,
            "product": feedback.product,
        } | complaint_fields
        if fields["customer"] is None:
            _fail({"customer": [_("A complaint needs a customer from the customer file.")]})
        complaint = services.register_complaint(actor, feedback=feedback, **fields)
        _mark_converted(feedback, ConvertedTo.COMPLAINT, complaint)
        _notify_recorder_converted(feedback, actor, complaint)
    return complaint


def convert_feedback_to_capa(actor, feedback, *, title, problem, owner):
    """Open a CAPA from the entry (source "customer feedback", its product) → CONVERTED.

    Needs ``feedback.change`` on the entry and ``capa.add``.
    """
    from qcare.complaints import services_capa

    require_perm(actor, "feedback.change", feedback)
    require_perm(actor, "capa.add")
    with transaction.atomic(), audit_context(actor=actor):
        _lock(feedback)
        _require_workable(feedback)
        capa = services_capa.open_capa(
            actor,
            source=CapaSource.FEEDBACK,
            title=title,
            problem=problem,
            owner=owner,
            feedback=feedback,
            product=feedback.product,
        )
        _mark_converted(feedback, ConvertedTo.CAPA, capa)
        _notify_recorder_converted(feedback, actor, capa)
    return capa


def feedback_from_communication(actor, communication, *, kind, owner=None):
    """Log feedback from an entry of the customer's communication log (R-CO-1, R-CU-4).

    Copies the customer, contact, channel (call → phone, visits → visit …), time, subject and
    content (the summary and, for visits, the customer's opinions) and marks the log entry as
    converted (``converted_to_type`` = "feedback"). The actor must see the entry in the
    customer file; an entry is converted once.
    """
    require_perm(actor, "feedback.add")
    require_perm(actor, "customers.view", communication)
    parts = [communication.summary, communication.customer_opinions]
    content = "\n\n".join(p.strip() for p in parts if (p or "").strip()) or communication.subject
    with transaction.atomic(), audit_context(actor=actor):
        communication.refresh_from_db(from_queryset=type(communication).objects.select_for_update())
        if communication.converted_to_type:
            raise Conflict(_("This communication has already been converted."))
        contact = communication.contact
        feedback = log_feedback(
            actor,
            channel=COMMUNICATION_CHANNELS.get(communication.kind, Channel.OTHER),
            kind=kind,
            subject=communication.subject,
            content=content,
            customer=communication.customer,
            contact=contact,
            contact_name=contact.name if contact else "",
            contact_phone=contact.phone if contact else "",
            received_at=min(communication.occurred_at, timezone.now()),
            owner=owner,
            communication=communication,
        )
        communication.converted_to_type = "feedback"
        communication.converted_to_id = str(feedback.pk)
        communication.save(update_fields=["converted_to_type", "converted_to_id", "updated_at"])
    return feedback
