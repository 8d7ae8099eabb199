"""The hash chain of the audit trail: hashing, appending under a lock, verifying.

Every entry stores ``hash = SHA-256(prev_hash + canonical JSON of its content)``, where the
content includes its ``seq``. Changing a byte of an entry breaks its hash; removing one
leaves a gap in ``seq`` (or a tail shorter than the chain head says); inserting one breaks
the link of the next entry or runs past the chain head. ``compute_hash`` and
``canonical_payload`` are public so benchmarks can build valid chains with bulk inserts.
"""

import hashlib
import json
from datetime import UTC

from django.db import connection, transaction
from django.utils import timezone

#: Fields of an entry covered by the hash, in the canonical payload.
PAYLOAD_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_name",
    "request_id",
    "model",
    "object_pk",
    "object_repr",
    "action",
    "changes",
    "reason",
    "data",
)
HEAD_PK = 1


def canonical_time(value):
    """``at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC), from a datetime or SQLite's stored text."""
    if isinstance(value, str):
        text = value.replace(" ", "T")[:26]
        if "." not in text:
            text = text[:19] + ".000000"
        return text.ljust(26, "0") + "Z"
    if timezone.is_aware(value):
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_payload(
    *,
    seq,
    at,
    actor_id=None,
    actor_name="",
    request_id="",
    model="",
    object_pk="",
    object_repr="",
    action,
    changes=None,
    reason="",
    data=None,
):
    """The dict that is hashed for one entry (``model`` is ``"app_label.modelname"``)."""
    return {
        "seq": int(seq),
        "at": canonical_time(at),
        "actor_id": actor_id,
        "actor_name": actor_name or "",
        "request_id": request_id or "",
        "model": model or "",
        "object_pk": object_pk or "",
        "object_repr": object_repr or "",
        "action": action,
        "changes": changes or {},
        "reason": reason or "",
        "data": data or {},
    }


# One encoder object: json.dumps() would rebuild it for every entry (the verifier's hot path).
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(payload):
    """Stable serialisation: sorted keys, no whitespace, UTF-8 characters kept."""
    return _ENCODER.encode(payload)


def compute_hash(prev_hash, payload):
    """SHA-256 hex of ``prev_hash`` followed by the canonical JSON of ``payload``."""
    return hashlib.sha256((prev_hash + canonical_json(payload)).encode()).hexdigest()


def _lock_head():
    """The chain head row, locked until the surrounding transaction ends (created if missing)."""
    from qcare.audit.models import ChainHead

    manager = ChainHead._base_manager
    head = manager.select_for_update().filter(pk=HEAD_PK).first()
    if head is None:
        # After a test flush the row is gone; ignore_conflicts makes concurrent creation safe.
        manager.bulk_create([ChainHead(pk=HEAD_PK)], ignore_conflicts=True)
        head = manager.select_for_update().get(pk=HEAD_PK)
    return head


def model_label(content_type):
    return f"{content_type.app_label}.{content_type.model}" if content_type is not None else ""


def append(specs):
    """Append entries (dicts of AuditEntry field values without seq/at/hashes) to the chain.

    Runs in one transaction that locks the chain head, so concurrent writers append one
    after the other. Returns the saved entries.
    """
    from qcare.audit.models import AuditEntry, ChainHead

    if not specs:
        return []
    with transaction.atomic():
        head = _lock_head()
        seq, prev = head.last_seq, head.last_hash
        now = timezone.now()
        entries = []
        for spec in specs:
            seq += 1
            content_type = spec.get("content_type")
            payload = canonical_payload(
                seq=seq,
                at=now,
                actor_id=spec.get("actor_id"),
                actor_name=spec.get("actor_name", ""),
                request_id=spec.get("request_id", ""),
                model=model_label(content_type),
                object_pk=spec.get("object_pk", ""),
                object_repr=spec.get("object_repr", ""),
                action=spec["action"],
                changes=spec.get("changes"),
                reason=spec.get("reason", ""),
                data=spec.get("data"),
            )
            digest = compute_hash(prev, payload)
            entries.append(
                AuditEntry(
                    seq=seq,
                    at=now,
                    actor_id=payload["actor_id"],
                    actor_name=payload["actor_name"],
                    request_id=payload["request_id"],
                    content_type=content_type,
                    object_pk=payload["object_pk"],
                    object_repr=payload["object_repr"],
                    action=payload["action"],
                    changes=payload["changes"],
                    reason=payload["reason"],
                    data=payload["data"],
                    prev_hash=prev,
                    hash=digest,
                )
            )
            prev = digest
        AuditEntry.objects.bulk_create(entries)
        ChainHead._base_manager.filter(pk=HEAD_PK).update(last_seq=seq, last_hash=prev)
    return entries


def generate_test_chain(count, *, batch_size=20000):
    """Append ``count`` synthetic entries with valid hashes via bulk inserts (benchmarks).

    Each batch is one transaction holding the chain head, so it can run next to real
    writers. Returns the number of entries written.
    """
    from qcare.audit.models import AuditEntry, ChainHead

    columns = [
        "seq", "at", "actor_id", "actor_name", "request_id", "content_type_id", "object_pk",
        "object_repr", "action", "changes", "reason", "data", "prev_hash", "hash",
    ]  # fmt: skip
    qn = connection.ops.quote_name
    sql = (
        f"INSERT INTO {qn(AuditEntry._meta.db_table)} ({', '.join(qn(c) for c in columns)}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(columns))})"
    )
    done = 0
    while done < count:
        size = min(batch_size, count - done)
        with transaction.atomic(), connection.cursor() as cursor:
            head = _lock_head()
            seq, prev = head.last_seq, head.last_hash
            rows = []
            for _i in range(size):
                seq += 1
                row, prev = _synthetic_row(seq, prev)
                rows.append(row)
            cursor.executemany(sql, rows)
            ChainHead._base_manager.filter(pk=HEAD_PK).update(last_seq=seq, last_hash=prev)
        done += size
    return done


def _synthetic_row(seq, prev):
    """One realistic-looking update entry (no actor or content type) and its hash."""
    now = timezone.now()
    changes = {"status": ["draft", "submitted"], "amount": [str(seq % 997), str(seq % 991)]}
    payload = canonical_payload(
        seq=seq, at=now, actor_name="基准测试", request_id=f"bench{seq:010d}", object_pk=str(seq),
        object_repr=f"BENCH-{seq:08d}", action="update", changes=changes, reason="benchmark 基准",
    )  # fmt: skip
    digest = compute_hash(prev, payload)
    row = [
        seq, connection.ops.adapt_datetimefield_value(now), None, payload["actor_name"],
        payload["request_id"], None, payload["object_pk"], payload["object_repr"], "update",
        json.dumps(changes), payload["reason"], "{}", prev, digest,
    ]  # fmt: skip
    return row, digest
