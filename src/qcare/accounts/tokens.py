"""API tokens: created once, stored as a SHA-256 hash, looked up by prefix, revocable.

A token is ``qc_<prefix>_<secret>``. The prefix (not secret) indexes the row; the whole token
is hashed with SHA-256 and compared with :func:`hmac.compare_digest`. SHA-256 rather than a
password hasher is right here: the secret has 256 bits of entropy, so a slow hash adds no
protection and would cost ~0.1 s on every API request.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from qcare.accounts.permissions import access_expired
from qcare.core.context import audit_context

TOKEN_PREFIX = "qc"  # noqa: S105  (a fixed marker, not a secret)
#: last_used_at is written at most this often per token (a write per request would be waste).
LAST_USED_RESOLUTION = timedelta(minutes=1)


def hash_token(raw):
    """The hex SHA-256 of a raw token (what is stored)."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _split(raw):
    """``(prefix, secret)`` of a well-formed token, else None."""
    if not isinstance(raw, str):
        return None
    parts = raw.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


def create_token(user, name, *, expires_at=None):
    """Create a token for ``user``; return ``(token_obj, raw)``. The raw token is never stored."""
    from qcare.accounts.models import ApiToken

    prefix = secrets.token_hex(6)
    raw = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            user=user, name=name, prefix=prefix, token_hash=hash_token(raw), expires_at=expires_at
        )
    return token, raw


def user_for_token(raw_token):
    """The active user owning ``raw_token``; None if unknown, revoked, expired or the user is not active."""
    from qcare.accounts.models import ApiToken

    parts = _split(raw_token)
    if parts is None:
        return None
    token = ApiToken.objects.select_related("user").filter(prefix=parts[0]).first()
    if token is None or not hmac.compare_digest(token.token_hash, hash_token(raw_token.strip())):
        return None
    user = token.user
    if not token.is_active or not user.is_active or access_expired(user):
        return None
    _touch(token)
    return user


def _touch(token):
    """Record use, at most once per LAST_USED_RESOLUTION, without auditing (it is not a change)."""
    from qcare.accounts.models import ApiToken

    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        # A queryset update: no audit entry, no version bump, no race on other fields.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


def revoke_token(token, *, actor=None):
    """Revoke ``token`` (idempotent). Permission checks are done by the calling service."""
    if token.revoked_at is not None:
        return token
    with transaction.atomic(), audit_context(actor=actor):
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
    return token
