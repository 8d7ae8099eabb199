"""The ``qcare`` console script and the benchmark runner."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QCARE = Path(sys.executable).parent / "qcare"


def test_cli_qcare_behaves_like_manage_py(tmp_path):
    env = dict(os.environ, QCARE_DATA_DIR=str(tmp_path))
    result = subprocess.run([str(QCARE), "check"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    result = subprocess.run(
        [str(QCARE), "no-such-command"], capture_output=True, text=True, env=env, timeout=120
    )
    assert result.returncode != 0 and "Unknown command" in result.stderr


def test_bench_runner_small(tmp_path):
    """`qcare bench service_create --size 200` writes JSON with the service/bulk ratio, off production data."""
    production = tmp_path / "production"
    env = dict(os.environ, QCARE_DATA_DIR=str(production))
    env.pop("QCARE_DATABASE_URL", None)
    results = tmp_path / "results"
    result = subprocess.run(
        [
            str(QCARE),
            "bench",
            "service_create",
            "--size",
            "200",
            "--data-dir",
            str(tmp_path / "bench"),
            "--results-dir",
            str(results),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ratio_service_to_bulk" in result.stdout
    [path] = results.glob("service_create-*.json")
    document = json.loads(path.read_text())
    assert document["size"] == 200
    assert document["metrics"]["rows"] == 200
    assert document["metrics"]["ratio_service_to_bulk"] > 1
    assert document["metrics"]["service_rows_per_s"] > 0 and document["metrics"]["bulk_rows_per_s"] > 0
    assert (tmp_path / "bench" / "qcare.sqlite3").is_file()
    assert not (production / "qcare.sqlite3").exists()
