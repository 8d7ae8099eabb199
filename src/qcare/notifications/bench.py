"""Benchmark helper: the outbox worker draining N e-mails to a loopback SMTP server.

Called by ``benchmarks/`` with Django set up and a migrated database::

    from qcare.notifications.bench import outbox_throughput
    result = outbox_throughput(10_000)   # {"messages": …, "seconds": …, "messages_per_s": …}

By default the SMTP server (aiosmtpd's discarding ``Sink``) runs in its own process, so it
does not compete with the worker for the GIL; ``smtp="thread"`` runs the recording server
in-process and also checks that every message arrived.
"""

import contextlib
import socket
import subprocess
import sys
import time

from django.db import transaction
from django.test.utils import override_settings

from qcare.notifications.models import Channel, Notification, Status
from qcare.notifications.services import notify
from qcare.notifications.smtp import RecordingSMTPServer, free_port
from qcare.notifications.worker import Worker

BENCH_DOMAIN = "@bench.invalid"


def enqueue(n, *, template="generic", language="zh-hans"):
    """Queue ``n`` e-mails to distinct addresses in one transaction (one bulk INSERT)."""
    recipients = [(f"bench{i}{BENCH_DOMAIN}", language) for i in range(n)]
    context = {"subject": "QCare benchmark", "text": "Outbox throughput benchmark message."}
    with transaction.atomic():
        return notify(recipients, template=template, context=context, channels=(Channel.EMAIL,))


@contextlib.contextmanager
def _sink_process():
    """aiosmtpd's Sink handler on a free loopback port, in a child process."""
    port = free_port()
    cmd = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the loopback SMTP server did not start") from None
                time.sleep(0.1)
        yield RecordingSMTPServer(port=port).settings(), None
    finally:
        proc.terminate()
        proc.wait(10)


@contextlib.contextmanager
def _thread_server():
    with RecordingSMTPServer() as server:
        yield server.settings(), server


def outbox_throughput(n=10_000, *, batch=100, smtp="process", cleanup=True):
    """Enqueue ``n`` e-mails, drain them with one worker to loopback SMTP; messages/s of the drain."""
    queued = enqueue(n)
    server_cm = _sink_process() if smtp == "process" else _thread_server()
    with server_cm as (email_settings, recorder), override_settings(**email_settings):
        worker = Worker(name="bench", batch=batch)
        started = time.perf_counter()
        sent = worker.drain()
        seconds = time.perf_counter() - started
        received = len(recorder.messages) if recorder else None
    marked = Notification.objects.filter(recipient_email__endswith=BENCH_DOMAIN, status=Status.SENT)
    result = {
        "queued": queued,
        "messages": sent,
        "marked_sent": marked.count(),
        "received": received,
        "seconds": round(seconds, 3),
        "messages_per_s": round(sent / seconds, 1) if seconds else None,
    }
    if cleanup:
        marked.delete()
    return result
