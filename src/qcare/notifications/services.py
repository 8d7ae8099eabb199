"""Notification services: queue into the outbox, read the inbox, retry dead letters.

``notify()`` writes rows only; nothing leaves the process here (DESIGN rule 8). Call it
inside the caller's ``transaction.atomic()``: the outbox rows commit or roll back with the
change that caused them. The worker (:mod:`qcare.notifications.worker`) sends e-mail later.
"""

import hashlib
import logging
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models, transaction
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.urls import NoReverseMatch
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.audit.services import log_event
from qcare.notifications.models import Channel, Notification, Status

logger = logging.getLogger(__name__)

TEMPLATE_DIR = "notifications"


def notify(recipients, *, template, context=None, dedupe_key=None, channels=("inbox", "email"), obj=None):
    """Queue ``template`` for every recipient on every channel, in the caller's transaction.

    ``recipients``: users, Departments (→ their active users), Roles or role codes (→ users
    holding the role), e-mail strings, ``(email, language)`` tuples, or any object with
    ``email`` (and optionally ``language`` / ``name``) such as a customer contact. E-mail-only
    recipients get only the e-mail channel. With ``dedupe_key`` the same notice is never
    queued twice for the same recipient and channel (insert-or-ignore, safe in an outer
    transaction on SQLite and PostgreSQL). Returns the number of rows newly queued.
    """
    context = dict(context or {})
    link = _object_link(obj)
    rendered = {}  # language → (subject, body, html): render once per language, not per row
    rows = []
    for target in _resolve(recipients):
        language = target["language"]
        if language not in rendered:
            rendered[language] = render(template, context, language, url=link["url"])
        subject, body, html = rendered[language]
        for channel in channels:
            if channel == Channel.INBOX and target["user"] is None:
                continue  # customers have no inbox
            if channel == Channel.EMAIL and not target["email"]:
                logger.debug("no e-mail address for %s; %s not e-mailed", target["key"], template)
                continue
            rows.append(_row(target, channel, template, context, subject, body, html, link, dedupe_key))
    if dedupe_key is not None:
        # Skip what is already queued; ignore_conflicts below covers a concurrent writer.
        existing = set(
            Notification.objects.filter(dedupe_key__in=[r.dedupe_key for r in rows]).values_list(
                "dedupe_key", flat=True
            )
        )
        rows = [r for r in rows if r.dedupe_key not in existing]
    if not rows:
        return 0
    with transaction.atomic():  # a savepoint inside the caller's transaction
        Notification.objects.bulk_create(rows, ignore_conflicts=dedupe_key is not None)
    return len(rows)


def _row(target, channel, template, context, subject, body, html, link, dedupe_key):
    now = timezone.now()
    inbox = channel == Channel.INBOX
    return Notification(
        recipient=target["user"],
        recipient_email=target["email"] if not inbox else "",
        recipient_name=target["name"],
        channel=channel,
        template=template,
        context=snapshot(context),
        language=target["language"],
        subject=subject,
        body=body,
        body_html=html if not inbox else "",
        content_type=link["content_type"],
        object_pk=link["object_pk"],
        url=link["path"],
        # In-app rows are delivered by being written; e-mail rows wait for the worker.
        status=Status.SENT if inbox else Status.PENDING,
        delivered_at=now if inbox else None,
        next_attempt_at=now,
        created_at=now,
        updated_at=now,
        dedupe_key=_derive_key(dedupe_key, target["key"], channel),
    )


def _derive_key(dedupe_key, recipient_key, channel):
    if dedupe_key is None:
        return None
    key = f"{dedupe_key}:{recipient_key}:{channel}"
    if len(key) > 255:  # keep the unique index bounded; a digest is as unique
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _resolve(recipients):
    """Expand recipients to unique targets: dicts with user, email, name, language, key."""
    from qcare.accounts.models import Department, Role

    User = get_user_model()
    if isinstance(recipients, str | User | Department | Role) or not hasattr(recipients, "__iter__"):
        recipients = [recipients]
    users, targets, seen = {}, [], set()
    for item in recipients:
        if isinstance(item, User):
            users[item.pk] = item
        elif isinstance(item, Department):
            users.update({u.pk: u for u in User.objects.filter(department=item, is_active=True)})
        elif isinstance(item, Role) or (isinstance(item, str) and "@" not in item):
            code = item.code if isinstance(item, Role) else item
            users.update({u.pk: u for u in User.objects.filter(roles__code=code, is_active=True)})
        else:
            target = _email_target(item)
            if target["key"] not in seen:
                seen.add(target["key"])
                targets.append(target)
    for user in users.values():
        targets.append(
            {
                "user": user,
                "email": user.email,
                "name": user.get_full_name(),
                "language": _language(user.language),
                "key": f"u{user.pk}",
            }
        )
    return targets


def _email_target(item):
    if isinstance(item, tuple | list):
        email, language = item[0], item[1] if len(item) > 1 else None
        name = item[2] if len(item) > 2 else ""
    elif isinstance(item, str):
        email, language, name = item, None, ""
    else:  # a contact-like object
        email = item.email
        language = getattr(item, "language", None)
        name = getattr(item, "name", "") or str(item)
    email = email.strip()
    return {"user": None, "email": email, "name": name, "language": _language(language), "key": email.lower()}


def _language(code):
    """A supported language code for ``code`` (default language when unknown or empty)."""
    if not code:
        return settings.LANGUAGE_CODE
    try:
        return translation.get_supported_language_variant(code.replace("_", "-").lower())
    except LookupError:
        return settings.LANGUAGE_CODE


def _object_link(obj):
    if obj is None:
        return {"content_type": None, "object_pk": "", "path": "", "url": ""}
    try:
        path = obj.get_absolute_url() if hasattr(obj, "get_absolute_url") else ""
    except NoReverseMatch:  # the object's screens are not installed (e.g. worker-only process)
        path = ""
    base = getattr(settings, "QCARE_BASE_URL", "").rstrip("/")
    return {
        "content_type": ContentType.objects.get_for_model(obj, for_concrete_model=False),
        "object_pk": str(obj.pk),
        "path": path,
        "url": f"{base}{path}" if path else "",
    }


def render(template, context, language, *, url=""):
    """Render (subject, text body, html body or "") of ``template`` in ``language``."""
    ctx = {**context, "url": url, "site_url": getattr(settings, "QCARE_BASE_URL", "")}
    with translation.override(language):
        subject = render_to_string(f"{TEMPLATE_DIR}/{template}.subject.txt", ctx)
        body = render_to_string(f"{TEMPLATE_DIR}/{template}.body.txt", ctx)
        try:
            html = render_to_string(f"{TEMPLATE_DIR}/{template}.body.html", ctx)
        except TemplateDoesNotExist:
            html = ""
    # A subject is one line (a newline in it would be a header injection).
    subject = " ".join(subject.split())[:255]
    return subject, body.strip() + "\n", html


def snapshot(value):
    """A JSON-safe copy of ``value``: model instances become {model, pk, str}."""
    if isinstance(value, dict):
        return {str(k): snapshot(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [snapshot(v) for v in value]
    if isinstance(value, models.Model):
        return {"model": value._meta.label_lower, "pk": value.pk, "str": str(value)}
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# --- Inbox -------------------------------------------------------------------------------


def inbox_for(user):
    """The user's in-app notifications, unread first, newest first."""
    return Notification.objects.filter(recipient=user, channel=Channel.INBOX).order_by(
        models.F("read_at").asc(nulls_first=True), "-id"
    )


def unread_count(user):
    """Number of unread in-app notifications of ``user`` (one COUNT on an index)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient=user, channel=Channel.INBOX, read_at__isnull=True).count()


def mark_read(user, notification_id):
    """Mark one of the user's own notifications read; returns it (NotFound if not theirs)."""
    from qcare.core.errors import NotFound

    try:
        notification = Notification.objects.get(pk=notification_id, recipient=user, channel=Channel.INBOX)
    except (Notification.DoesNotExist, ValueError):
        raise NotFound()
    if notification.read_at is None:
        notification.read_at = timezone.now()
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=notification.read_at
        )
    return notification


def mark_all_read(user):
    """Mark every unread in-app notification of ``user`` read; returns how many."""
    return Notification.objects.filter(recipient=user, channel=Channel.INBOX, read_at__isnull=True).update(
        read_at=timezone.now()
    )


# --- Dead letters --------------------------------------------------------------------------


def undelivered():
    """E-mail rows that failed (retrying) or are dead, for the dead-letter screen."""
    return Notification.objects.filter(
        channel=Channel.EMAIL, status__in=[Status.FAILED, Status.DEAD]
    ).order_by("status", "-id")


def retry(actor, notification_ids=None):
    """Send failed/dead e-mails again now (all of them when ``notification_ids`` is None)."""
    require_perm(actor, "notifications.admin")
    qs = undelivered()
    if notification_ids is not None:
        qs = qs.filter(pk__in=list(notification_ids))
    with transaction.atomic():
        count = qs.update(
            status=Status.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            claimed_by="",
            claimed_until=None,
            updated_at=timezone.now(),
        )
        log_event(
            "notifications.retry",
            actor=actor,
            data={"count": count, "ids": None if notification_ids is None else list(notification_ids)},
            reason=_("Retry of undelivered e-mail"),
        )
    return count
