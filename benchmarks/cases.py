"""The benchmarks. Each takes ``(size, args)``, works on a fresh benchmark database, and
returns a flat dict of metrics (the runner prints and saves it)."""

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from benchmarks import generate, loadgen

DEFAULT_SIZES = {
    "service_create": 10_000,
    "audit_verify": 1_000_000,
    "outbox_drain": 10_000,
    "list_endpoint": 100_000,
    "customers": 20_000,
    "customers_import": 20_000,
    "orders": 200_000,
    "complaints": 1_000_000,
}
PAGE_SIZE = 50
WEB_WORKERS = 2  # gunicorn sync workers of the load test (DESIGN: 2 on 2 cores)


def _rate(count, seconds):
    return round(count / seconds, 1) if seconds > 0 else None


def service_create(size, args):
    """Audited, numbered creates through ``create_sample`` vs a bare ``bulk_create``."""
    from qcare.sample.models import SampleRecord
    from qcare.sample.services import create_sample

    user = generate.bench_user()
    started = time.perf_counter()
    for i in range(size):
        create_sample(user, title=f"服务层创建 {i}", description="benchmark", amount=Decimal("12.50"))
        if (i + 1) % max(size // 10, 1) == 0:
            generate.progress("create_sample", i + 1, size, started)
    service_seconds = time.perf_counter() - started

    rows = [
        SampleRecord(number=f"BULK{i:08d}", title=f"批量 {i}", amount=Decimal("12.50"), owner=user)
        for i in range(size)
    ]
    started = time.perf_counter()
    SampleRecord.objects.bulk_create(rows, batch_size=1000)
    bulk_seconds = time.perf_counter() - started
    return {
        "rows": size,
        "service_seconds": round(service_seconds, 3),
        "service_rows_per_s": _rate(size, service_seconds),
        "bulk_seconds": round(bulk_seconds, 3),
        "bulk_rows_per_s": _rate(size, bulk_seconds),
        "ratio_service_to_bulk": round(service_seconds / bulk_seconds, 1) if bulk_seconds else None,
    }


def audit_verify(size, args):
    """``qcare audit verify`` (a real CLI process) over a generated valid chain of ``size`` entries."""
    from qcare.audit.chain import generate_test_chain

    print(f"  generating {size:,} audit entries with valid hashes …", flush=True)
    started = time.perf_counter()
    generate_test_chain(size)
    generate_seconds = time.perf_counter() - started
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "qcare", "audit", "verify"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    verify_seconds = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"qcare audit verify failed:\n{result.stdout}\n{result.stderr}")
    print(f"  {result.stdout.strip()}")
    inner = re.search(r"verified in ([\d.]+) s", result.stdout)
    return {
        "entries": size,
        "generate_seconds": round(generate_seconds, 2),
        "verify_seconds": round(verify_seconds, 2),
        "verify_entries_per_s": _rate(size, verify_seconds),
        # The verifier's own time, without the CLI process start-up (Python + Django).
        "verify_seconds_in_process": float(inner.group(1)) if inner else None,
        "budget_seconds_for_1M": 60,
    }


def outbox_drain(size, args):
    """The outbox worker delivering ``size`` e-mails to a loopback SMTP server (aiosmtpd)."""
    from qcare.notifications.bench import outbox_throughput

    result = outbox_throughput(size)
    delivered = result.get("marked_sent", result["messages"])
    if result["messages"] != size or delivered != size or result.get("received") not in (None, size):
        raise SystemExit(f"outbox drain lost messages: {result}")
    return {
        "messages": result["messages"],
        "marked_sent": delivered,
        "seconds": result["seconds"],
        "messages_per_s": result["messages_per_s"],
    }


def _raw_sql_ms(queryset, repeat=50):
    """Milliseconds per execution of the SQL the ORM generates for ``queryset`` (cursor only)."""
    from django.db import connection

    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        for _ in range(repeat):
            cursor.execute(sql, params)
            cursor.fetchall()
        return (time.perf_counter() - started) * 1000 / repeat


def _page_queries(user, *, status=None, page=1):
    """The two queries of a list page (count, rows) exactly as the API builds them."""
    from qcare.sample.api import LIST_FIELDS
    from qcare.sample.models import SampleRecord

    qs = SampleRecord.objects.restrict(user, "view")
    if status:
        qs = qs.filter(status=status)
    start = (page - 1) * PAGE_SIZE
    rows = qs.values(*LIST_FIELDS)[start : start + PAGE_SIZE]
    return qs.values("pk"), rows  # the count is timed as SELECT COUNT(*) over the same WHERE


def _raw_page_ms(user, *, status=None, page=1):
    from django.db import connection

    count_qs, rows_qs = _page_queries(user, status=status, page=page)
    sql, params = count_qs.query.sql_with_params()
    with connection.cursor() as cursor:
        started = time.perf_counter()
        for _ in range(50):
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS page_count", params)  # noqa: S608
            cursor.fetchone()
        count_ms = (time.perf_counter() - started) * 1000 / 50
    return count_ms + _raw_sql_ms(rows_qs)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_gunicorn(port):
    """gunicorn with 2 sync workers and persistent connections, against the benchmark database."""
    conf = Path(__file__).resolve().parents[1] / "src" / "qcare" / "gunicorn_conf.py"
    env = dict(os.environ, QCARE_PORT=str(port), QCARE_HOST="127.0.0.1", QCARE_WEB_WORKERS=str(WEB_WORKERS))
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    process = subprocess.Popen([gunicorn, "--config", str(conf)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit("gunicorn exited at start; see the benchmark data dir's logs")
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start within 60 s")


ROUNDS = 3


def _interleaved_load(port, urls, token, args):
    """Load each URL in turn, ROUNDS times, so a busy spell on the machine hits all alike."""
    for path in urls.values():  # warm up: imports, template/URL caches, connections in every worker
        loadgen.run(f"http://127.0.0.1:{port}{path}", token, duration=1.0, connections=args.connections)
    totals = {label: {"requests": 0, "errors": 0, "rates": []} for label in urls}
    for round_number in range(ROUNDS):
        for label, path in urls.items():
            url = f"http://127.0.0.1:{port}{path}"
            result = loadgen.run(url, token, duration=args.duration / ROUNDS, connections=args.connections)
            totals[label]["requests"] += result["requests"]
            totals[label]["errors"] += result["errors"]
            totals[label]["rates"].append(result["requests_per_s"])
            totals[label]["tool"] = result["tool"]
            print(
                f"  round {round_number + 1}/{ROUNDS} {label}: {result['requests_per_s']:,.1f} req/s",
                flush=True,
            )
    return {
        label: {
            "tool": total["tool"],
            "requests": total["requests"],
            "errors": total["errors"],
            "requests_per_s": round(sum(total["rates"]) / len(total["rates"]), 1),
        }
        for label, total in totals.items()
    }


def list_endpoint(size, args):
    """GET /api/samples/ over ``size`` rows vs the minimal JsonResponse view vs the raw SQL."""
    from django.db import connection

    from qcare.accounts.tokens import create_token

    user = generate.bench_user()
    owners = [user]
    generate.sample_records(size, owners)
    _, token = create_token(user, "benchmark")
    deep_page = max(1, (size // 3) // PAGE_SIZE // 2)  # deep in the filtered result set
    urls = {
        "minimal": "/api/_bench/samples-minimal/",
        "endpoint_page1": "/api/samples/",
        "endpoint_deep_filtered": f"/api/samples/?status=approved&page={deep_page}",
    }
    raw_ms = {
        "minimal": _raw_page_ms(user),
        "endpoint_page1": _raw_page_ms(user),
        "endpoint_deep_filtered": _raw_page_ms(user, status="approved", page=deep_page),
    }
    connection.close()  # the server processes get their own connections
    port = _free_port()
    server = _start_gunicorn(port)
    try:
        measured = _interleaved_load(port, urls, token, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    metrics = {"rows": size, "load_tool": measured["minimal"]["tool"], "connections": args.connections}
    for label, result in measured.items():
        metrics[f"{label}_req_per_s"] = result["requests_per_s"]
        metrics[f"{label}_errors"] = result["errors"]
        metrics[f"{label}_raw_sql_ms"] = round(raw_ms[label], 3)
    minimal = measured["minimal"]["requests_per_s"]
    page1 = measured["endpoint_page1"]["requests_per_s"]
    metrics["ratio_endpoint_to_minimal"] = round(page1 / minimal, 3) if minimal else None
    metrics["budget_endpoint_to_minimal"] = 0.60
    metrics["within_budget"] = bool(minimal and page1 / minimal >= 0.60)
    for label in ("endpoint_page1", "endpoint_deep_filtered"):
        # With the WEB_WORKERS saturated, each request costs WEB_WORKERS / (req/s) of server
        # time; the ratio compares that with the single-threaded time of the page's raw SQL.
        rate = measured[label]["requests_per_s"]
        ms_per_request = WEB_WORKERS * 1000 / rate if rate else None
        metrics[f"{label}_server_ms_per_request"] = round(ms_per_request, 2) if rate else None
        metrics[f"ratio_{label}_to_raw_sql"] = round(ms_per_request / raw_ms[label], 2) if rate else None
    if any(result["errors"] for result in measured.values()):
        raise SystemExit(f"non-2xx responses during the load test: {metrics}")
    return metrics


def customers(size, args):
    """Customer file (issue 3): list page, API list, 2-character search, 360 page — see benchmarks/customers.py."""
    from benchmarks.customers import customers as run

    return run(size, args)


def customers_import(size, args):
    """Import ``size`` rows of customers from xlsx (R-IF-4: 20,000 rows in under a minute)."""
    from benchmarks.customers_import import run

    return run(size, args)


def orders(size, args):
    """Orders (issue 4): order list, lot trace, review-cycle report — see benchmarks/orders.py."""
    from benchmarks.orders import orders as run

    return run(size, args)


def complaints(size, args):
    """Complaints (issue 5): list with search, deadline scan, statistics, recall reach — see benchmarks/complaints.py."""
    from benchmarks.complaints import complaints as run

    return run(size, args)
