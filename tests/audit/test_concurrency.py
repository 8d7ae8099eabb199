"""P3: concurrent writers never fork the chain (real threads, SQLite and PostgreSQL)."""

import threading

import pytest
from django.db import close_old_connections, connection

from qcare.audit.models import AuditEntry
from qcare.audit.verify import verify_chain
from tests.audit.helpers import make_sample, user_with

THREADS = 8
PER_THREAD = 5


@pytest.mark.django_db(transaction=True)
def test_P3_concurrent_writers_keep_one_valid_chain():
    owner = user_with(full_name="并发用户")
    start = AuditEntry.objects.count()
    barrier = threading.Barrier(THREADS)
    errors = []

    def work():
        try:
            barrier.wait()
            for i in range(PER_THREAD):
                make_sample(owner, title=f"并发 {threading.get_ident()} {i}")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    close_old_connections()
    assert errors == []
    seqs = list(AuditEntry.objects.order_by("seq").values_list("seq", flat=True))
    assert len(seqs) == start + THREADS * PER_THREAD
    assert seqs == list(range(1, len(seqs) + 1)), "contiguous, no duplicates"
    result = verify_chain()
    assert result.ok, result.problem
