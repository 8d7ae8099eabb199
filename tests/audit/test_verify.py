"""P3: `qcare audit verify` finds a changed, removed or inserted entry and exits non-zero."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from qcare.audit.chain import canonical_payload, compute_hash, generate_test_chain
from qcare.audit.models import AuditEntry, ChainHead
from qcare.audit.services import log_event
from qcare.audit.verify import verify_chain
from tests.audit.helpers import make_sample, user_with


def _raw(sql, params=()):
    """Tamper as an attacker with database access would (the PostgreSQL trigger switched off)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry DISABLE TRIGGER audit_entry_append_only")
        cursor.execute(sql, list(params))
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditentry ENABLE TRIGGER audit_entry_append_only")


@pytest.fixture
def trail(db):
    owner = user_with(full_name="赵审核")
    for i in range(4):
        make_sample(owner, title=f"记录{i}")
    log_event("export", data={"rows": 4})
    entries = list(AuditEntry.objects.order_by("seq"))
    assert len(entries) >= 8
    return entries


def _verify_fails(capsys=None, **kwargs):
    with pytest.raises(CommandError) as caught:
        call_command("audit", "verify", **kwargs)
    assert caught.value.returncode != 0
    return str(caught.value)


def test_P3_verify_ok_reports_count(trail, capsys):
    call_command("audit", "verify")
    out = capsys.readouterr().out
    assert out.startswith(f"OK: {len(trail)} entries verified")


def test_P3_verify_detects_changed_byte(trail):
    victim = trail[5]
    # One byte: the first character of the stored reason / record text.
    _raw("UPDATE audit_auditentry SET object_repr = 'X' || object_repr WHERE id = %s", [victim.pk])
    message = _verify_fails()
    assert "(changed)" in message
    assert f"seq={victim.seq} " in message and f"id={victim.pk} " in message
    assert victim.object_repr in message


def test_P3_verify_detects_changed_json(trail):
    victim = trail[3]
    _raw("UPDATE audit_auditentry SET changes = %s WHERE id = %s", ['{"title": [null, "伪造"]}', victim.pk])
    message = _verify_fails()
    assert "(changed)" in message and f"seq={victim.seq} " in message


def test_P3_verify_detects_removed_entry(trail):
    victim = trail[4]
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [victim.pk])
    message = _verify_fails()
    assert "(removed)" in message
    assert f"Entries {victim.seq} to {victim.seq}" in message or str(victim.seq) in message
    assert f"seq={victim.seq + 1} " in message  # names the entry after the gap


def test_P3_verify_detects_removed_last_entry(trail):
    victim = trail[-1]
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [victim.pk])
    message = _verify_fails()
    assert "(removed)" in message and str(victim.seq) in message


def test_P3_verify_detects_inserted_entry(trail):
    last = trail[-1]
    # A forged entry with a correctly computed hash, appended past the chain head.
    _insert_forged(last.seq + 1, last.at, last.hash, "forged")
    message = _verify_fails()
    assert "(inserted)" in message and f"seq={last.seq + 1} " in message


def _payload(entry, seq):
    return canonical_payload(
        seq=seq, at=entry.at, actor_id=entry.actor_id, actor_name=entry.actor_name,
        request_id=entry.request_id,
        model=f"{entry.content_type.app_label}.{entry.content_type.model}" if entry.content_type_id else "",
        object_pk=entry.object_pk, object_repr=entry.object_repr, action=entry.action,
        changes=entry.changes, reason=entry.reason, data=entry.data,
    )  # fmt: skip


def _insert_forged(seq, at, prev_hash, reason):
    digest = compute_hash(prev_hash, canonical_payload(seq=seq, at=at, action="other", reason=reason))
    _raw(
        "INSERT INTO audit_auditentry (seq, at, actor_name, request_id, object_pk, object_repr, action, "
        "changes, reason, data, prev_hash, hash) VALUES (%s, %s, '', '', '', '', 'other', '{}', %s, "
        "'{}', %s, %s)",
        [seq, connection.ops.adapt_datetimefield_value(at), reason, prev_hash, digest],
    )
    return AuditEntry.objects.get(seq=seq)


def test_P3_verify_detects_inserted_entry_in_the_middle(trail):
    # The attacker shifts the tail by one (re-hashing each shifted entry so its own hash
    # matches) and slips a forged, validly hashed entry into the hole.
    k = trail[3].seq
    for entry in reversed(trail[3:]):
        rehashed = compute_hash(entry.prev_hash, _payload(entry, entry.seq + 1))
        _raw(
            "UPDATE audit_auditentry SET seq = %s, hash = %s WHERE id = %s",
            [entry.seq + 1, rehashed, entry.pk],
        )
    forged = _insert_forged(k, trail[2].at, trail[2].hash, "inserted")
    message = _verify_fails()
    assert "(inserted)" in message
    assert f"seq={k} id={forged.pk} " in message


def test_P3_verify_detects_replaced_entry(trail):
    victim = trail[4]
    _raw("DELETE FROM audit_auditentry WHERE id = %s", [victim.pk])
    forged = _insert_forged(victim.seq, victim.at, trail[3].hash, "replaced")
    message = _verify_fails()
    assert "(changed)" in message and f"seq={victim.seq} id={forged.pk} " in message


def test_P3_verify_from_seq(trail, capsys):
    call_command("audit", "verify", from_seq=3)
    assert capsys.readouterr().out.startswith(f"OK: {len(trail) - 2} entries verified")


def test_P3_generated_chain_verifies_and_extends_real_entries(trail):
    assert generate_test_chain(2500, batch_size=1000) == 2500
    log_event("export", data={"after": "bench"})
    result = verify_chain(batch_size=700)
    assert result.ok, result.problem
    assert result.checked == len(trail) + 2501
    assert ChainHead.objects.get(pk=1).last_seq == result.checked


def test_P3_verify_detects_missing_chain_head(trail):
    ChainHead.objects.all().delete()
    message = _verify_fails()
    assert "(removed)" in message and f"seq={trail[-1].seq} " in message
