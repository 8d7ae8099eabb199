"""``qcare worker``: one pass with --once, and a clean exit 0 on SIGTERM."""

import os
import signal
import subprocess
import sys
import time

import pytest
from django.core.management import call_command
from django.db import transaction

from qcare.notifications.services import notify


@pytest.mark.django_db
def test_R_NT_3_worker_once_sends_due_mail(smtp_server, capsys):
    with transaction.atomic():
        notify(["customer@example.org"], template="generic", context={"subject": "S", "text": "T"})
    call_command("worker", "--once", "--name", "cli")
    assert "cli: 1 e-mail(s) sent" in capsys.readouterr().out
    assert len(smtp_server.messages) == 1


def test_R_NT_3_worker_exits_cleanly_on_sigterm(tmp_path):
    """A real `qcare worker` process on its own SQLite data dir stops with exit code 0 on SIGTERM."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QCARE_", "DJANGO_"))}
    env.update(QCARE_DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="qcare.settings")
    qcare = [sys.executable, "-m", "qcare"]
    subprocess.run([*qcare, "migrate", "-v0"], env=env, check=True, timeout=300)
    proc = subprocess.Popen([*qcare, "worker", "--sleep", "0.2"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()  # "…: started; jobs: …" once it is in its loop
        assert "started" in line
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        assert "stopped" in proc.stdout.read()
    finally:
        if proc.poll() is None:
            proc.kill()
