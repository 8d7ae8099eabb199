"""Services of corrective and preventive actions (纠正和预防措施 ``CA-YYYY-NNNN``, SPEC R-CO-6)
and of the detection of repeated complaints.

A CAPA is opened from a complaint, a group of repeated complaints or customer feedback
(:func:`open_capa`, :func:`open_capa_for_repeats`); its owner writes the problem, the
containment and the root-cause analysis — 5-why steps and fishbone (5M1E) categories as
structured fields (:func:`update_analysis`) — and plans actions with owners and due dates
(:func:`add_action`; reminder and escalation times on the business calendar for the jobs).
When every action is done or cancelled it goes to quality (:func:`submit_for_verification`),
who verifies the effectiveness and signs "verified" (:func:`verify_capa`): effective → closed,
not effective → back to work. The signature binds the analysis, the actions and the verdict;
a later edit makes it invalid (P4).

Repeated complaints (R-CO-6): complaints on the same product with the same cause category
within ``complaints.repeat_window`` are a repeat group; from ``complaints.repeat_threshold``
complaints on, all of them are flagged (:func:`flag_repeats`, called by the workflow when the
cause is set) and the group shows on the dashboard (:func:`repeat_groups`) with a one-click CAPA.
"""

from datetime import datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from qcare.accounts.permissions import has_perm, require_perm
from qcare.complaints.choices import (
    CAPA_TRANSITIONS,
    ActionKind,
    ActionStatus,
    CapaSource,
    CapaStatus,
    CauseCategory,
    Fishbone,
)
from qcare.complaints.models import Capa, CapaAction, Complaint
from qcare.core import policies, signatures
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, NotFound, NotPermitted
from qcare.core.numbering import next_number
from qcare.core.service_helpers import date_value as _date
from qcare.core.service_helpers import fail as _fail
from qcare.core.service_helpers import lock as _lock
from qcare.core.service_helpers import require_reason as _require_reason
from qcare.core.service_helpers import required as _required
from qcare.notifications.services import notify
from qcare.workcalendar import calendar
from qcare.workcalendar.durations import DurationUnit
from qcare.workcalendar.rules import rules_for

#: At most this many "why?" steps (5-why).
MAX_WHYS = 5
#: CAPA statuses in which the analysis and the actions are worked on.
WORKING_STATUSES = (CapaStatus.OPEN, CapaStatus.IN_PROGRESS)
#: A CAPA in these statuses is still dealing with its problem (the dashboard hides its group).
LIVE_STATUSES = (CapaStatus.OPEN, CapaStatus.IN_PROGRESS, CapaStatus.VERIFICATION)


# --- helpers ----------------------------------------------------------------------------------
def _status_label(status):
    return str(CapaStatus(status).label)


def _set_status(capa, to_status, *, fields=()):
    """Move ``capa`` to ``to_status`` if ``CAPA_TRANSITIONS`` allows it; saves status and ``fields``."""
    if to_status not in CAPA_TRANSITIONS.get(capa.status, set()):
        raise Conflict(
            _("A CAPA cannot go from “%(from)s” to “%(to)s”.")
            % {"from": _status_label(capa.status), "to": _status_label(to_status)}
        )
    capa.status = to_status
    capa.save(update_fields=["status", "updated_at", *fields])


def _require_working(capa):
    if capa.status not in WORKING_STATUSES:
        raise Conflict(
            _("The CAPA is “%(status)s”; its analysis and actions cannot be changed.")
            % {"status": _status_label(capa.status)}
        )


def _text(values, name, errors, *, required=True, limit=None):
    """The stripped text ``values[name]``; field errors when missing, too long or not text."""
    value = values.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = [_("Enter text.")]
        return ""
    value = value.strip()
    if required and not value:
        errors[name] = _required()
    elif limit and len(value) > limit:
        errors[name] = [_("Enter at most %(limit)s characters.") % {"limit": limit}]
    return value


def _user(value, errors, name, perm, message):
    """An active user holding ``perm`` (owners of CAPAs and actions must be able to work on them)."""
    User = get_user_model()
    pk = value.pk if isinstance(value, User) else value
    user = User.objects.filter(pk=pk, is_active=True).first() if str(pk).isdigit() else None
    if user is None or not has_perm(user, perm):
        errors[name] = [message]
        return None
    return user


def verifiers(exclude=None):
    """Active users who may verify CAPAs (``capa.verify``)."""
    User = get_user_model()
    users = User.objects.filter(is_active=True, roles__grants__permission="capa.verify").distinct()
    return [u for u in users if exclude is None or u.pk != exclude.pk]


def _others(users, actor):
    seen, result = set(), []
    for user in users:
        if user is not None and user.pk != actor.pk and user.pk not in seen:
            seen.add(user.pk)
            result.append(user)
    return result


# --- business calendar: times of the action reminders ----------------------------------------
def _local_midnight(day):
    return datetime.combine(day, time()).replace(tzinfo=rules_for().tz)


def _subtract(moment, duration):
    """``moment`` minus ``duration`` on the business calendar (the calendar only adds)."""
    amount = duration.amount
    if duration.unit == DurationUnit.CALENDAR_DAYS:
        local = moment.astimezone(rules_for().tz).replace(tzinfo=None) - timedelta(days=float(amount))
        return local.replace(tzinfo=rules_for().tz)
    if duration.unit == DurationUnit.WORKING_DAYS:
        day, counted = moment.astimezone(rules_for().tz).date(), 0
        while counted < amount:
            day -= timedelta(days=1)
            counted += calendar.is_working_day(day)
        wall = moment.astimezone(rules_for().tz).time()
        return datetime.combine(day, wall).replace(tzinfo=rules_for().tz)
    # Working hours: walk the working periods backwards.
    remaining = timedelta(hours=float(amount))
    day = moment.astimezone(rules_for().tz).date()
    for _step in range(calendar.MAX_SEARCH_DAYS):
        for begin, finish in reversed(calendar.working_periods(day)):
            finish = min(finish, moment)
            if finish <= begin:
                continue
            if remaining <= finish - begin:
                return finish - remaining
            remaining -= finish - begin
        day -= timedelta(days=1)
    raise ValueError("no working time found")  # pragma: no cover


def action_times(due_on):
    """(remind_at, escalate_at) of an action due on ``due_on``.

    The reminder goes ``capa.action_remind_before`` before the start of the due date (moved to
    the next working time, so it arrives in the morning); the escalation to the CAPA owner
    ``capa.action_escalate_after`` after the end of the due date.
    """
    start = _local_midnight(due_on)
    remind_at = calendar.next_working_time(_subtract(start, policies.get("capa.action_remind_before")))
    escalate_at = calendar.add_duration(
        _local_midnight(due_on + timedelta(days=1)), policies.get("capa.action_escalate_after")
    )
    return remind_at, escalate_at


# --- opening ----------------------------------------------------------------------------------
def _link_complaints(capa, complaints):
    """Link the complaints to ``capa`` (locked; each may belong to one CAPA only)."""
    ids = [c.pk for c in complaints]
    rows = list(Complaint.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
    taken = [c.number for c in rows if c.capa_id and c.capa_id != capa.pk]
    if taken:
        _fail(
            {
                "complaints": [
                    _("These complaints already have a CAPA: %(numbers)s.") % {"numbers": ", ".join(taken)}
                ]
            }
        )
    for complaint in rows:
        complaint.capa = capa
        complaint.save(update_fields=["capa", "updated_at"])
    return rows


def _common(values):
    values = {v for v in values if v not in (None, "")}
    return values.pop() if len(values) == 1 else None


def open_capa(
    actor,
    *,
    source,
    title,
    problem,
    owner,
    complaints=(),
    feedback=None,
    product=None,
    cause_category="",
    containment="",
    due_on=None,
):
    """Open a CAPA (``CA-YYYY-NNNN``, ``capa.add``) and link its complaints (``complaint.capa``).

    ``owner`` must be allowed to work on CAPAs (``capa.change``) and is told. From complaints
    (source complaint / repeated complaints) at least one complaint is needed, each visible to
    the actor and not yet linked to another CAPA; the product and cause category default to
    the complaints' common ones. From feedback the entry is needed.
    """
    require_perm(actor, "capa.add")
    values = {"title": title, "problem": problem, "containment": containment}
    errors = {}
    title = _text(values, "title", errors, limit=200)
    problem = _text(values, "problem", errors)
    containment = _text(values, "containment", errors, required=False)
    if source not in CapaSource.values:
        errors["source"] = [_("Select a valid choice.")]
    owner = _user(owner, errors, "owner", "capa.change", _("Select an active user who may work on CAPAs."))
    complaints = list(complaints or ())
    visible = Complaint.objects.restrict(actor, "view").filter(pk__in=[c.pk for c in complaints])
    if len(complaints) != visible.count():
        errors["complaints"] = [_("Select complaints you can see.")]
    if source in (CapaSource.COMPLAINT, CapaSource.REPEATED_COMPLAINTS) and not complaints:
        errors["complaints"] = [_("Select the complaints this CAPA deals with.")]
    if source == CapaSource.FEEDBACK and feedback is None:
        errors["feedback"] = [_("Select the feedback this CAPA comes from.")]
    if cause_category and cause_category not in CauseCategory.values:
        errors["cause_category"] = [_("Select a valid choice.")]
    due_on = _date(due_on, errors, "due_on")
    if due_on is not None and due_on < timezone.localdate():
        errors["due_on"] = [_("The target date cannot be in the past.")]
    if errors:
        _fail(errors)
    product = product or _common(c.product for c in complaints)
    cause_category = cause_category or _common(c.cause_category for c in complaints) or ""
    reason = _("CAPA opened")
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        capa = Capa.objects.create(
            number=next_number("capa"),
            source=source,
            feedback=feedback,
            title=title,
            product=product,
            cause_category=cause_category,
            problem=problem,
            containment=containment,
            owner=owner,
            department=owner.department,
            opened_by=actor,
            due_on=due_on,
        )
        _link_complaints(capa, complaints)
        if owner.pk != actor.pk:
            notify(
                [owner],
                template="complaints/capa_assigned",
                context={"capa": capa, "actor": actor},
                obj=capa,
            )
    return capa


def _repeat_candidates(complaint):
    """The flagged complaints of ``complaint``'s product and cause category that have no CAPA."""
    return Complaint.objects.filter(
        product_id=complaint.product_id,
        cause_category=complaint.cause_category,
        is_repeat=True,
        capa__isnull=True,
    ).order_by("received_at", "pk")


def open_capa_for_repeats(actor, complaint, *, owner=None):
    """One click from a repeat flag: a CAPA (source "repeated complaints") for the whole group.

    Links every flagged complaint of the same product and cause category that has no CAPA
    yet (the group of ``complaint`` and any earlier flagged ones: it is the same problem),
    with title and problem prefilled from them. The owner is the actor when they may work on
    CAPAs, else the complaint's owner.
    """
    require_perm(actor, "capa.add")
    if not Complaint.objects.restrict(actor, "view").filter(pk=complaint.pk).exists():
        raise NotFound()
    complaint.refresh_from_db()
    if not complaint.is_repeat or complaint.product_id is None:
        raise Conflict(
            _("Complaint %(number)s is not flagged as a repeated complaint.") % {"number": complaint}
        )
    if complaint.capa_id:
        raise Conflict(
            _("Complaint %(number)s already has CAPA %(capa)s.")
            % {"number": complaint.number, "capa": complaint.capa.number}
        )
    group = list(_repeat_candidates(complaint))
    if owner is None:
        owner = actor if has_perm(actor, "capa.change") else complaint.owner
    product = complaint.product
    cause = CauseCategory(complaint.cause_category).label
    title = _("Repeated complaints: %(product)s – %(cause)s") % {"product": product.name, "cause": cause}
    lines = [
        _("%(count)s complaints on %(product)s with the cause “%(cause)s”:")
        % {
            "count": len(group),
            "product": f"{product.code} {product.name} {product.model}".strip(),
            "cause": cause,
        }
    ]
    for item in group:
        lines.append(
            f"- {item.number} ({timezone.localtime(item.received_at):%Y-%m-%d}, {item.customer}): "
            f"{item.description[:200]}"
        )
    return open_capa(
        actor,
        source=CapaSource.REPEATED_COMPLAINTS,
        title=title[:200],
        problem="\n".join(lines),
        owner=owner,
        complaints=group,
        product=product,
        cause_category=complaint.cause_category,
    )


# --- analysis ---------------------------------------------------------------------------------
def _clean_whys(value, errors):
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        errors["why_analysis"] = [_("Enter the answers to “why?” as a list.")]
        return []
    if not all(isinstance(v, str) for v in value):
        errors["why_analysis"] = [_("Enter the answers to “why?” as text.")]
        return []
    whys = [v.strip() for v in value]
    while whys and not whys[-1]:  # trailing empty steps of a form
        whys.pop()
    if len(whys) > MAX_WHYS:
        errors["why_analysis"] = [_("Enter at most %(count)s answers to “why?”.") % {"count": MAX_WHYS}]
    elif any(not w for w in whys):
        errors["why_analysis"] = [_("Fill in every “why?” step, or remove the empty ones.")]
    return whys


def _clean_fishbone(value, errors):
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors["fishbone"] = [_("Enter the fishbone categories as a mapping.")]
        return {}
    unknown = sorted(str(k) for k in value if k not in Fishbone.values)
    if unknown:
        errors["fishbone"] = [_("Unknown fishbone categories: %(names)s.") % {"names": ", ".join(unknown)}]
        return {}
    if not all(isinstance(v, str) for v in value.values()):
        errors["fishbone"] = [_("Enter text for each fishbone category.")]
        return {}
    # Stored in the order of the diagram, empty categories left out.
    return {k: value[k].strip() for k in Fishbone.values if (value.get(k) or "").strip()}


def update_analysis(
    actor, capa, *, containment, why_analysis, fishbone, root_cause, reason="", expected_version=None
):
    """Write the containment and the root-cause analysis of an open CAPA (``capa.change``).

    ``why_analysis``: up to 5 answers to "why?" (list of text); ``fishbone``: text per
    ``choices.Fishbone`` category (man, machine, material, method, measurement, environment).
    An edit after a verification makes that verification's signature invalid.
    """
    require_perm(actor, "capa.change", capa)
    values = {"containment": containment, "root_cause": root_cause}
    errors = {}
    containment = _text(values, "containment", errors, required=False)
    root_cause = _text(values, "root_cause", errors, required=False)
    whys = _clean_whys(why_analysis, errors)
    fishbone = _clean_fishbone(fishbone, errors)
    if errors:
        _fail(errors)
    reason = (reason or "").strip() or _("Root-cause analysis")
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock(capa, expected_version)
        _require_working(capa)
        capa.containment = containment
        capa.why_analysis = whys
        capa.fishbone = fishbone
        capa.root_cause = root_cause
        capa.save(update_fields=["containment", "why_analysis", "fishbone", "root_cause", "updated_at"])
    return capa


# --- actions ----------------------------------------------------------------------------------
def add_action(actor, capa, *, kind, description, owner, due_on):
    """Plan an action with its owner and due date (``capa.change``); the owner is told.

    The first action starts the work (OPEN → IN_PROGRESS). Reminder and escalation times are
    stored for the jobs (:func:`action_times`).
    """
    require_perm(actor, "capa.change", capa)
    errors = {}
    if kind not in ActionKind.values:
        errors["kind"] = [_("Select a valid choice.")]
    description = _text({"description": description}, "description", errors)
    owner = _user(
        owner, errors, "owner", "capa.change", _("Select an active user who may work on CAPA actions.")
    )
    due_on = _date(due_on, errors, "due_on")
    if due_on is None and "due_on" not in errors:
        errors["due_on"] = _required()
    elif due_on is not None and due_on < timezone.localdate():
        errors["due_on"] = [_("The due date cannot be in the past.")]
    if errors:
        _fail(errors)
    remind_at, escalate_at = action_times(due_on)
    with transaction.atomic(), audit_context(actor=actor, reason=_("CAPA action planned")):
        _lock(capa)
        _require_working(capa)
        action = CapaAction.objects.create(
            capa=capa,
            kind=kind,
            description=description,
            owner=owner,
            due_on=due_on,
            remind_at=max(remind_at, timezone.now()),
            escalate_at=escalate_at,
        )
        if capa.status == CapaStatus.OPEN:
            _set_status(capa, CapaStatus.IN_PROGRESS)
        if owner.pk != actor.pk:
            notify(
                [owner],
                template="complaints/capa_action_assigned",
                context={"capa": capa, "action": action, "actor": actor},
                obj=capa,
            )
    return action


def _lock_action(action):
    action.refresh_from_db(from_queryset=CapaAction.objects.select_for_update())
    capa = _lock(action.capa)
    if action.status != ActionStatus.OPEN:
        raise Conflict(
            _("This action is already “%(status)s”.") % {"status": ActionStatus(action.status).label}
        )
    if capa.status != CapaStatus.IN_PROGRESS:
        raise Conflict(
            _("The CAPA is “%(status)s”; its actions cannot be changed.")
            % {"status": _status_label(capa.status)}
        )
    return capa


def complete_action(actor, action, *, result):
    """The action's owner (or the CAPA owner) records it as done with its result.

    The CAPA owner is told; when it was the last open action, the message says the CAPA can
    go to verification.
    """
    require_perm(actor, "capa.change", action)
    errors = {}
    result = _text({"result": result}, "result", errors)
    if errors:
        _fail(errors)
    with transaction.atomic(), audit_context(actor=actor, reason=_("CAPA action done")):
        capa = _lock_action(action)
        if actor.pk not in (action.owner_id, capa.owner_id):
            raise NotPermitted(_("Only the owner of the action or of the CAPA can record it as done."))
        action.status = ActionStatus.DONE
        action.result = result
        action.done_at = timezone.now()
        action.save(update_fields=["status", "result", "done_at", "updated_at"])
        if capa.owner_id != actor.pk:
            notify(
                [capa.owner],
                template="complaints/capa_action_done",
                context={
                    "capa": capa,
                    "action": action,
                    "actor": actor,
                    "all_done": not capa.actions.filter(status=ActionStatus.OPEN).exists(),
                },
                obj=capa,
            )
    return action


def cancel_action(actor, action, *, reason):
    """The CAPA owner cancels an open action that is no longer needed; the reason is kept as
    its result and the action's owner is told."""
    require_perm(actor, "capa.change", action)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        capa = _lock_action(action)
        if actor.pk != capa.owner_id:
            raise NotPermitted(_("Only the owner of the CAPA can cancel its actions."))
        action.status = ActionStatus.CANCELLED
        action.result = reason
        action.save(update_fields=["status", "result", "updated_at"])
        if action.owner_id != actor.pk:
            notify(
                [action.owner],
                template="complaints/capa_action_cancelled",
                context={"capa": capa, "action": action, "actor": actor, "reason": reason},
                obj=capa,
            )
    return action


# --- verification and closure -------------------------------------------------------------------
def verification_problems(capa):
    """Why ``capa`` cannot go to verification yet (translated texts; empty when it can)."""
    problems = []
    if not capa.root_cause.strip():
        problems.append(_("Write the root cause first."))
    open_count = capa.actions.filter(status=ActionStatus.OPEN).count()
    if open_count:
        problems.append(
            ngettext(
                "%(count)s action is still open: complete or cancel it first.",
                "%(count)s actions are still open: complete or cancel them first.",
                open_count,
            )
            % {"count": open_count}
        )
    if not capa.actions.filter(status=ActionStatus.DONE).exists():
        problems.append(_("At least one action must be done."))
    return problems


def submit_for_verification(actor, capa, *, expected_version=None):
    """Hand a CAPA whose actions are all done or cancelled to quality (IN_PROGRESS → VERIFICATION);
    the users who verify CAPAs are told."""
    require_perm(actor, "capa.change", capa)
    with transaction.atomic(), audit_context(actor=actor, reason=_("Submitted for verification")):
        _lock(capa, expected_version)
        if capa.status != CapaStatus.IN_PROGRESS:
            raise Conflict(
                _("Only a CAPA with actions in progress can go to verification (status: %(status)s).")
                % {"status": _status_label(capa.status)}
            )
        problems = verification_problems(capa)
        if problems:
            raise Conflict(
                problems[0] if len(problems) == 1 else _("The CAPA cannot go to verification yet."),
                errors={"__all__": problems},
            )
        _set_status(capa, CapaStatus.VERIFICATION)
        notify(
            verifiers(exclude=actor),
            template="complaints/capa_verification_requested",
            context={"capa": capa, "actor": actor},
            obj=capa,
        )
    return capa


def verify_capa(actor, capa, *, effective, verification, password, username=None, expected_version=None):
    """Quality verifies the effectiveness and signs "verified" (``capa.verify``).

    The signature binds the analysis, the actions with their results and the verdict.
    Effective → CLOSED; not effective → back to IN_PROGRESS for further actions. The owner is told.
    """
    require_perm(actor, "capa.verify", capa)
    errors = {}
    verification = _text({"verification": verification}, "verification", errors)
    if errors:
        _fail(errors)
    effective = bool(effective)
    with signatures.signing_atomic(), audit_context(actor=actor, reason=verification):
        _lock(capa, expected_version)
        if capa.status != CapaStatus.VERIFICATION:
            raise Conflict(
                _("The CAPA is not awaiting verification (status: %(status)s).")
                % {"status": _status_label(capa.status)}
            )
        now = timezone.now()
        capa.verification = verification
        capa.is_effective = effective
        capa.verified_by = actor
        capa.verified_at = now
        capa.save(update_fields=["verification", "is_effective", "verified_by", "verified_at", "updated_at"])
        # Signed after saving: the signature covers the stored verdict.
        signature = signatures.sign(capa, actor, password, "verified", verification, username=username)
        capa.verification_signature = signature
        fields = ["verification_signature"]
        if effective:
            capa.closed_at = now
            fields.append("closed_at")
        _set_status(capa, CapaStatus.CLOSED if effective else CapaStatus.IN_PROGRESS, fields=fields)
        if capa.owner_id != actor.pk:
            notify(
                [capa.owner],
                template="complaints/capa_verified",
                context={"capa": capa, "actor": actor, "effective": effective},
                obj=capa,
            )
    return capa


def verification_valid(capa):
    """True when the CAPA's verification signature still matches its content."""
    if capa.verification_signature_id is None:
        return False
    return capa.verification_signature.content_hash == signatures.content_hash(capa)


def cancel_capa(actor, capa, *, reason, expected_version=None):
    """Cancel a CAPA that is not needed (``capa.add``), with the reason: its open actions are
    cancelled, its complaints are unlinked (they can get another CAPA and show on the
    dashboard again), the owner and the action owners are told."""
    require_perm(actor, "capa.add", capa)
    reason = _require_reason(reason)
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        _lock(capa, expected_version)
        if CapaStatus.CANCELLED not in CAPA_TRANSITIONS.get(capa.status, set()):
            raise Conflict(
                _("The CAPA cannot be cancelled while it is “%(status)s”.")
                % {"status": _status_label(capa.status)}
            )
        open_actions = list(capa.actions.filter(status=ActionStatus.OPEN).select_related("owner"))
        for action in open_actions:
            action.status = ActionStatus.CANCELLED
            action.result = reason
            action.save(update_fields=["status", "result", "updated_at"])
        for complaint in Complaint.objects.select_for_update().filter(capa=capa):
            complaint.capa = None
            complaint.save(update_fields=["capa", "updated_at"])
        capa.cancel_reason = reason
        _set_status(capa, CapaStatus.CANCELLED, fields=["cancel_reason"])
        notify(
            _others([capa.owner, *(a.owner for a in open_actions)], actor),
            template="complaints/capa_cancelled",
            context={"capa": capa, "actor": actor, "reason": reason},
            obj=capa,
        )
    return capa


# --- repeated complaints (R-CO-6) -----------------------------------------------------------------
def repeat_group(complaint):
    """Complaints on the same product with the same cause category received within
    ``complaints.repeat_window`` before ``complaint`` up to it (any status, ``complaint`` included).
    Empty when the complaint has no product or no cause category yet."""
    if not complaint.product_id or not complaint.cause_category:
        return Complaint.objects.none()
    start = _subtract(complaint.received_at, policies.get("complaints.repeat_window"))
    return Complaint.objects.filter(
        product_id=complaint.product_id,
        cause_category=complaint.cause_category,
        received_at__gte=start,
        received_at__lte=complaint.received_at,
    ).order_by("received_at", "pk")


def flag_repeats(complaint):
    """Flag the repeat group of ``complaint`` when it reaches ``complaints.repeat_threshold``.

    Sets ``is_repeat`` on every complaint of the group with a queryset update (derived data,
    like a search index: not a correction of the records, so not audited) and tells quality
    (users who may open CAPAs) once per complaint that completed a group. Returns the size of
    the flagged group, 0 when below the threshold. Runs in the caller's transaction.
    """
    group = repeat_group(complaint)
    size = group.count()
    if size < policies.get("complaints.repeat_threshold"):
        return 0
    newly = group.filter(is_repeat=False).update(is_repeat=True)
    complaint.is_repeat = True
    loaded = getattr(complaint, "_loaded_values", None)
    if loaded is not None:  # the in-memory copy matches the row: no phantom change in the audit
        loaded["is_repeat"] = True
    if newly and complaint.capa_id is None:
        User = get_user_model()
        quality = User.objects.filter(is_active=True, roles__grants__permission="capa.add").distinct()
        notify(
            list(quality),
            template="complaints/capa_repeat_flagged",
            context={"complaint": complaint, "count": size, "product": complaint.product},
            dedupe_key=f"complaints-repeat:{complaint.pk}",
            obj=complaint,
        )
    return size


def repeat_groups(user, limit=20):
    """Dashboard: groups of flagged complaints without a CAPA, newest first.

    One dict per product and cause category: ``product``, ``cause_category`` (code),
    ``cause_label``, ``count`` (flagged complaints without CAPA) and ``latest`` (the newest
    of them, for the one-click CAPA). Only complaints the user may see count; a group with a
    CAPA still at work (open, in progress, awaiting verification) is left out — new complaints
    go to that CAPA.
    """
    from qcare.catalog.models import Product

    rows = list(
        Complaint.objects.restrict(user, "view")
        .filter(is_repeat=True, capa__isnull=True, product__isnull=False)
        .exclude(cause_category="")
        .values("product_id", "cause_category")
        .annotate(count=Count("id"), latest_at=Max("received_at"))
        .order_by("-latest_at")
    )
    if not rows:
        return []
    live = set(
        Complaint.objects.filter(capa__status__in=LIVE_STATUSES)
        .filter(
            Q(product_id__in={r["product_id"] for r in rows})
            & Q(cause_category__in={r["cause_category"] for r in rows})
        )
        .values_list("product_id", "cause_category")
        .distinct()
    )
    rows = [r for r in rows if (r["product_id"], r["cause_category"]) not in live][:limit]
    products = Product.objects.in_bulk([r["product_id"] for r in rows])
    visible = Complaint.objects.restrict(user, "view")
    groups = []
    for row in rows:
        latest = (
            visible.filter(
                product_id=row["product_id"],
                cause_category=row["cause_category"],
                is_repeat=True,
                capa__isnull=True,
            )
            .order_by("-received_at", "-pk")
            .first()
        )
        groups.append(
            {
                "product": products[row["product_id"]],
                "cause_category": row["cause_category"],
                "cause_label": str(CauseCategory(row["cause_category"]).label),
                "count": row["count"],
                "latest": latest,
            }
        )
    return groups
