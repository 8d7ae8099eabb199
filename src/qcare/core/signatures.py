"""Electronic signatures (P4): re-entered password, printed name, meaning, content hash.

A record type declares ``signed_fields`` (or a ``signature_content()`` method); a signature
stores SHA-256 over the canonical JSON of that content *as stored in the database* when it
was signed. :attr:`Signature.is_valid` recomputes it: a change to a signed field makes
the signature invalid, a change to anything else (status, owner…) does not.

Wrong passwords: each one is counted on the user (``signing_failures``) and audited
(``signature_failed``); ``signatures.max_failures`` in a row lock signing
(``signing_locked_at``) and notify the administrators until one of them unlocks it.

A failed attempt must be recorded even though the caller's transaction rolls back, so
services that sign call it inside :func:`signing_atomic` instead of
``transaction.atomic()``; the failure is written after the rollback. See
docs/decisions/0303-signature-failures-survive-rollback.md.
"""

import hashlib
import json
from contextlib import contextmanager
from contextvars import ContextVar

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.core import policies
from qcare.core.errors import NotPermitted, ReasonRequired, ValidationFailed
from qcare.core.models_mech import Signature, SignatureMeaning

#: Failed attempts waiting for the enclosing :func:`signing_atomic` to finish.
_pending_failures = ContextVar("qcare_pending_signature_failures", default=None)


class SignatureRefused(ValidationFailed):
    """The password was wrong: nothing was signed."""

    code = "signature_refused"


# --- content and hash --------------------------------------------------------------------
def _stored(record):
    """The record as it is stored now (signing binds the saved content, not unsaved edits)."""
    if record.pk is None:
        raise ValidationFailed(_("Save the record before signing it."))
    return type(record)._base_manager.get(pk=record.pk)


def signature_content(record):
    """The signed content of ``record``: ``signature_content()`` or its ``signed_fields``."""
    if hasattr(record, "signature_content"):
        return record.signature_content()
    names = getattr(record, "signed_fields", None)
    if not names:
        raise TypeError(f"{type(record).__name__} declares no signed_fields; it cannot be signed")
    return {name: record._meta.get_field(name).value_from_object(record) for name in names}


def content_hash(record):
    """SHA-256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the signed content."""
    text = json.dumps(
        signature_content(record),
        cls=DjangoJSONEncoder,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# --- failures and lock -------------------------------------------------------------------
def _admins():
    from django.contrib.auth import get_user_model

    users = get_user_model().objects.filter(is_active=True)
    return list(users.filter(Q(roles__code="administrator") | Q(is_superuser=True)).distinct())


def _record_failure(user, record):
    """Count one wrong password, audit it, and lock signing at the policy's limit."""
    from qcare.audit.services import log_event
    from qcare.notifications.services import notify

    model = user.__class__  # request.user is a lazy proxy: type() would be SimpleLazyObject
    limit = policies.get("signatures.max_failures")
    with transaction.atomic():
        model._base_manager.filter(pk=user.pk).update(signing_failures=F("signing_failures") + 1)
        row = (
            model._base_manager.select_for_update()
            .only("signing_failures", "signing_locked_at")
            .get(pk=user.pk)
        )
        user.signing_failures = row.signing_failures
        log_event("signature_failed", obj=record, actor=user, data={"failures": row.signing_failures})
        if row.signing_failures >= limit and row.signing_locked_at is None:
            user.signing_locked_at = timezone.now()
            model._base_manager.filter(pk=user.pk).update(signing_locked_at=user.signing_locked_at)
            log_event("signing_locked", obj=user, actor=user, data={"failures": row.signing_failures})
            notify(
                _admins(),
                template="signatures/locked",
                context={"user": user, "failures": row.signing_failures},
                dedupe_key=f"signing-locked:{user.pk}:{user.signing_locked_at.isoformat()}",
                obj=user,
            )


@contextmanager
def signing_atomic(using=None):
    """``transaction.atomic()`` for services that sign: failed attempts survive the rollback.

    Inside it, :func:`sign` only notes a wrong password; when the block is left (committed
    or rolled back) the failures are written in their own transaction.
    """
    token = _pending_failures.set([])
    try:
        with transaction.atomic(using=using):
            yield
    finally:
        pending = _pending_failures.get()
        _pending_failures.reset(token)
        for user, record in pending:
            _record_failure(user, record)


def _refuse_wrong_password(user, record, *, both_components=False):
    pending = _pending_failures.get()
    if pending is not None:
        pending.append((user, record))
    else:
        _record_failure(user, record)
    if both_components:  # don't tell which of the two was wrong
        raise SignatureRefused(
            _("The user name or password is not correct. Nothing was signed."),
            errors={"password": [_("The user name or password is not correct.")]},
        )
    raise SignatureRefused(
        _("The password is not correct. Nothing was signed."),
        errors={"password": [_("The password is not correct.")]},
    )


def _check_signer(user, password, record, username=None):
    """Refuse inactive or locked signers and wrong passwords (both components re-checked)."""
    state = user.__class__._base_manager.filter(pk=user.pk).values("is_active", "signing_locked_at").first()
    if state is None or not state["is_active"]:
        raise NotPermitted(_("This account cannot sign."))
    if state["signing_locked_at"] is not None:
        raise NotPermitted(
            _("Signing is locked after too many wrong passwords. Ask an administrator to unlock it.")
        )
    both = username is not None
    if both and username.strip() != user.get_username():
        _refuse_wrong_password(user, record, both_components=True)
    if not password or not user.check_password(password):
        _refuse_wrong_password(user, record, both_components=both)


# --- services ----------------------------------------------------------------------------
def sign(record, user, password, meaning, comment="", *, username=None):
    """Sign ``record`` as ``user`` after re-checking ``password``; returns the Signature.

    The password is re-entered for every signature. ``username`` is the first component:
    screens ask for it on the first signature after a session break (sign-in), as 21 CFR
    Part 11 §11.200 requires, and a mismatch counts as a failed attempt like a wrong
    password. Runs in the caller's transaction (use :func:`signing_atomic` there) or in its own.
    """
    from qcare.audit.services import log_event

    if meaning not in SignatureMeaning.values:
        raise ValidationFailed(errors={"meaning": [_("Select a valid meaning.")]})
    _check_signer(user, password, record, username=username)
    with transaction.atomic():
        stored = _stored(record)
        if user.signing_failures:
            user.__class__._base_manager.filter(pk=user.pk).update(signing_failures=0)
            user.signing_failures = 0
        signature = Signature.objects.create(
            content_type=ContentType.objects.get_for_model(stored),
            object_pk=str(stored.pk),
            signer=user,
            signer_full_name=user.get_full_name(),
            signed_at=timezone.now(),
            meaning=meaning,
            comment=comment or "",
            content_hash=content_hash(stored),
            record_version=getattr(stored, "version", None),
        )
        signature._is_valid = True
        log_event(
            "signature",
            obj=record,
            actor=user,
            data={"signature": signature.pk, "meaning": meaning, "content_hash": signature.content_hash},
        )
    return signature


def signatures_for(record):
    """The signatures of ``record`` (oldest first), each with ``is_valid`` computed."""
    rows = list(
        Signature.objects.filter(
            content_type=ContentType.objects.get_for_model(record), object_pk=str(record.pk)
        ).select_related("signer")
    )
    if rows:
        current = content_hash(_stored(record))
        for row in rows:
            row._is_valid = row.content_hash == current
    return rows


def signature_dicts(record):
    """The signatures of ``record`` as JSON-able dicts, for the API and printouts."""
    return [
        {
            "id": s.pk,
            "signer": s.signer_id,
            "signer_full_name": s.signer_full_name,
            "meaning": s.meaning,
            "meaning_label": str(s.get_meaning_display()),
            "signed_at": s.signed_at.isoformat(),
            "signed_at_local": timezone.localtime(s.signed_at, _company_tz()).isoformat(),
            "comment": s.comment,
            "content_hash": s.content_hash,
            "record_version": s.record_version,
            "is_valid": s.is_valid,
        }
        for s in signatures_for(record)
    ]


def _company_tz():
    from zoneinfo import ZoneInfo

    from django.conf import settings

    return ZoneInfo(settings.TIME_ZONE)


def valid_signatures(record, meaning=None):
    """Signatures still bound to the current content; workflows treat the rest as unsigned."""
    return [s for s in signatures_for(record) if s.is_valid and (meaning is None or s.meaning == meaning)]


def unlock_signing(actor, user, reason):
    """Let ``user`` sign again after a lock (needs ``signatures.unlock`` and a reason)."""
    from qcare.accounts.permissions import has_perm
    from qcare.audit.services import log_event

    if not has_perm(actor, "signatures.unlock"):
        raise NotPermitted()
    if not (reason or "").strip():
        raise ReasonRequired()
    with transaction.atomic():
        user.__class__._base_manager.filter(pk=user.pk).update(signing_failures=0, signing_locked_at=None)
        user.signing_failures, user.signing_locked_at = 0, None
        log_event("signing_unlocked", obj=user, actor=actor, reason=reason)
    return user


#: Session flag: this sign-in session has already produced a signature (P4, §11.200).
SESSION_SIGNED_KEY = "qcare_signed_in_session"


def session_needs_username(request):
    """True until the first signature of this sign-in session: then both components are asked."""
    session = getattr(request, "session", None) or {}
    return not session.get(SESSION_SIGNED_KEY, False)


def note_session_signed(request):
    """Remember that this session has signed (a new sign-in starts a fresh session)."""
    request.session[SESSION_SIGNED_KEY] = True
