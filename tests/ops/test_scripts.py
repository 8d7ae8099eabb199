"""The two commands and CI script: executable, strict bash, syntactically valid."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = [ROOT / "scripts" / "start", ROOT / "scripts" / "test", ROOT / ".ci" / "run"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_scripts_are_executable_and_use_set_e(script):
    assert os.access(script, os.X_OK), f"{script} is not executable"
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text
    subprocess.run(["bash", "-n", str(script)], check=True)


def test_start_stops_both_children_on_sigterm_and_honours_port_and_host():
    text = (ROOT / "scripts" / "start").read_text()
    assert "trap stop_children INT TERM" in text
    assert 'QCARE_PORT="${QCARE_PORT:-8000}"' in text
    assert 'QCARE_HOST="${QCARE_HOST:-127.0.0.1}"' in text
    assert "runserver" not in text.replace("never runserver", "")


def test_gunicorn_config_reads_qcare_variables(monkeypatch, tmp_path):
    import runpy

    monkeypatch.setenv("QCARE_HOST", "127.0.0.2")
    monkeypatch.setenv("QCARE_PORT", "8123")
    monkeypatch.setenv("QCARE_WEB_WORKERS", "3")
    monkeypatch.setenv("QCARE_DATA_DIR", str(tmp_path))
    conf = runpy.run_path(str(ROOT / "src" / "qcare" / "gunicorn_conf.py"))
    assert conf["bind"] == "127.0.0.2:8123"
    assert conf["workers"] == 3 and conf["worker_class"] == "sync"
    assert conf["accesslog"] == str(tmp_path / "logs" / "access.log")
