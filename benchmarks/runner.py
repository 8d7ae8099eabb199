"""Command line, isolation and reporting of the benchmarks.

Before Django is set up the runner points QCare at a benchmark-only data directory and
database (``--data-dir``, default a temporary directory; ``--database-url`` or
``QCARE_BENCH_DATABASE_URL`` for PostgreSQL, whose database name must contain "bench"),
enables the sample app, and then rebuilds that database from scratch for every benchmark.
Results are printed as a table and written to ``benchmarks/results/<name>-<timestamp>.json``.
"""

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
NAMES = (
    "service_create",
    "audit_verify",
    "outbox_drain",
    "list_endpoint",
    "customers",
    "customers_import",
    "orders",
    "complaints",
)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("name", choices=[*NAMES, "all"], help="benchmark to run")
    parser.add_argument(
        "--size", type=int, default=None, help="rows/entries/messages (default per benchmark)"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds of load per URL (list_endpoint)"
    )
    parser.add_argument("--connections", type=int, default=8, help="concurrent connections (list_endpoint)")
    parser.add_argument("--data-dir", default=None, help="benchmark data directory (default: a temp dir)")
    parser.add_argument("--database-url", default=os.environ.get("QCARE_BENCH_DATABASE_URL", ""))
    parser.add_argument("--results-dir", default=str(RESULTS_DIR))
    return parser.parse_args(argv)


def isolate(args):
    """Point QCare at the benchmark's own data dir and database, then set Django up."""
    data_dir = Path(args.data_dir or tempfile.mkdtemp(prefix="qcare-bench-")).resolve()
    (data_dir / "static").mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
    os.environ["QCARE_DATA_DIR"] = str(data_dir)
    os.environ["QCARE_ENABLE_SAMPLE_APP"] = "1"
    os.environ["QCARE_BENCH_VIEWS"] = "1"  # the minimal lower-bound view of list_endpoint
    os.environ["DJANGO_SETTINGS_MODULE"] = "qcare.settings"
    if args.database_url:
        name = args.database_url.rsplit("/", 1)[-1].split("?")[0]
        if "bench" not in name:
            raise SystemExit(f"refusing to benchmark on database {name!r}: its name must contain 'bench'")
        os.environ["QCARE_DATABASE_URL"] = args.database_url
    else:
        os.environ.pop("QCARE_DATABASE_URL", None)
    import django

    django.setup()
    return data_dir


def fresh_database():
    """Drop everything in the benchmark database and migrate it again."""
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    connection.close()
    db = settings.DATABASES["default"]
    if connection.vendor == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db['NAME']}{suffix}").unlink(missing_ok=True)
    else:
        with connection.cursor() as cursor:
            cursor.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    call_command("migrate", verbosity=0, interactive=False)


def print_table(name, metrics):
    width = max(len(k) for k in metrics)
    print(f"\n{name}")
    print("-" * (width + 22))
    for key, value in metrics.items():
        shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
        print(f"{key.ljust(width)}  {shown:>18}")


def write_result(results_dir, name, size, metrics):
    from django.db import connection

    import qcare

    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = results_dir / f"{name}-{stamp}.json"
    document = {
        "benchmark": name,
        "size": size,
        "at": stamp,
        "qcare_version": qcare.__version__,
        "database": connection.vendor,
        "python": platform.python_version(),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "metrics": metrics,
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False))
    return path


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    data_dir = isolate(args)
    from benchmarks import cases

    names = NAMES if args.name == "all" else (args.name,)
    print(
        f"benchmark data: {data_dir}  database: {os.environ.get('QCARE_DATABASE_URL') and 'PostgreSQL' or 'SQLite'}"
    )
    for name in names:
        size = args.size or cases.DEFAULT_SIZES[name]
        print(f"\n==> {name} (size {size:,}): preparing a fresh database", flush=True)
        fresh_database()
        started = time.perf_counter()
        metrics = getattr(cases, name)(size, args)
        metrics["total_seconds"] = round(time.perf_counter() - started, 2)
        print_table(name, metrics)
        print(f"written: {write_result(args.results_dir, name, size, metrics)}")
    return 0
