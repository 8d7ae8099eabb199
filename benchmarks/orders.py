"""The orders benchmark (issue 4): 200,000 orders, 1,000,000 order lines, 2,000,000 shipment
lines (data: ``benchmarks/orders_generate.py``), then, each against its lower bound in the same run:

1. the order list with a status filter and with a customer filter — the HTML page ``/orders/``
   and the API ``/api/orders/`` — against the raw SQL of the same page (count + 50 rows) and a
   minimal ``.values()`` JSON view of the same rows (budgets as for the customer list: API ≥ 60 %,
   HTML ≥ 40 % of the minimal view's req/s);
2. the traceability of a lot shipped to 5,000 customers: ``selectors.trace_lot`` (every row and
   the first page) and ``GET /api/trace/lots/{lot}/`` against the raw SQL of the same rows
   (issue: "well under a second");
3. ``selectors.review_cycle_report(user, year)`` for one year against the raw SQL that fetches
   the same rows (budget ≤ 2×), with the time the working-hours calendar takes shown apart.

Standalone (reuses the generated data when it is complete)::

    python -m benchmarks.orders [--size N] [--data-dir D] [--database-url URL] [--skip-web]
                                [--regenerate] [--try-indexes]

The default data dir of the standalone run is ``/tmp/qcare-bench-orders`` (kept between runs);
``--regenerate`` forces new data; ``--try-indexes`` also times the statements of the slow parts
with each candidate index of ``CANDIDATE_INDEXES`` (created, measured, dropped). Through the
runner (``python -m benchmarks orders``) the database is rebuilt from scratch, as for every
runner benchmark.
"""

import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import quote

from benchmarks.customers import _ms, _plan, _raw

DEFAULT_SIZE = 200_000  # orders; lines 5×, shipment lines 10×, customers ÷ 10
DEFAULT_DATA_DIR = "/tmp/qcare-bench-orders"  # noqa: S108 (a benchmark scratch dir)
PAGE_SIZE = 50
API_PAGE_SIZE = 200  # the API's largest page: the trace of 5,000 lines is 25 pages
LIST_STATUS = "shipped"  # the large status (~35 % of the orders): the count is the cost
SMALL_STATUS = "under_review"
SLOW_REPEAT = 3
BUDGETS = {"api": 0.60, "html": 0.40, "report_to_raw_sql": 2.0, "trace_lot_seconds": 1.0}


def _timed(callable_, repeat):
    """Median milliseconds of ``repeat`` calls after one warm-up call; returns (ms, result)."""
    result = callable_()
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = callable_()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), result


def _users():
    from qcare.accounts.models import User

    return User.objects.get(username="bench"), User.objects.get(username="rev_production0")


def _list_customer():
    """The customer with the most orders (the customer filter's case) and its order count."""
    from django.db.models import Count

    from qcare.orders.models import Order

    row = Order.objects.values("customer_id").annotate(n=Count("id")).order_by("-n", "customer_id").first()
    return row["customer_id"], row["n"]


# --- SQL helpers ---------------------------------------------------------------------------
def _statements(callable_):
    """The SQL statements ``callable_`` runs, as executed (parameters inlined)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        callable_()
    return [q["sql"] for q in captured.captured_queries]


def _run_statements(statements):
    """A callable executing ``statements`` on a cursor and fetching every row; returns the row count."""
    from django.db import connection

    def run():
        rows = 0
        with connection.cursor() as cursor:
            for sql in statements:
                cursor.execute(sql)
                rows += len(cursor.fetchall())
        return rows

    return run


def _is_count(sql):
    return "COUNT(" in sql.upper()


# --- 1. order list ------------------------------------------------------------------------
def list_sql_metrics(user, dept_user, customer):
    """In-process: the lower bound's SQL (count + page) on a cursor vs the same through the ORM."""
    from benchmarks.orders_urls import minimal_page, minimal_queryset

    cases = {
        "status": (user, {"status": LIST_STATUS}),
        "small_status": (user, {"status": SMALL_STATUS}),
        "customer": (user, {"customer": customer}),
        "unfiltered": (user, {}),
        "dept_scope_status": (dept_user, {"status": LIST_STATUS}),
    }
    metrics = {}
    for label, (who, filters) in cases.items():
        qs = minimal_queryset(who, **filters)

        def orm(qs=qs):
            return qs.count(), list(minimal_page(qs))

        statements = _statements(orm)
        raw_ms = _ms(_run_statements(statements))
        orm_ms = _ms(orm)
        metrics[f"list_{label}_rows"] = qs.count()
        metrics[f"list_{label}_raw_sql_ms"] = round(raw_ms, 3)
        metrics[f"list_{label}_orm_ms"] = round(orm_ms, 3)
        metrics[f"ratio_list_{label}_orm_to_raw_sql"] = round(orm_ms / raw_ms, 2) if raw_ms else None
        for sql in statements:
            kind = "count" if _is_count(sql) else "page"
            metrics[f"plan_list_{label}_{kind}"] = _plan(sql, [])
            metrics[f"list_{label}_{kind}_sql_ms"] = round(_ms(_run_statements([sql])), 3)
    return metrics


def _client(user, token=None):
    """A test client logged in as ``user`` (session), or sending ``token`` (API)."""
    from django.test import Client

    if token:
        return Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    client = Client()
    client.force_login(user)
    return client


def _in_process(client, path, repeat=10):
    """(median ms, status, SQL statements) of ``GET path`` in this process (no HTTP server)."""

    def get():
        return client.get(path)

    ms, response = _timed(get, repeat)
    return ms, response.status_code, _statements(get)


def page_in_process_metrics(user, token, urls):
    """Each page in this process: ms, status, its queries, and its SQL run alone on a cursor."""
    from django.core.management import call_command
    from django.test.utils import override_settings

    call_command("collectstatic", interactive=False, verbosity=0)  # the pages need the manifest
    metrics = {}
    with override_settings(ALLOWED_HOSTS=["*"], ROOT_URLCONF="benchmarks.orders_urls"):
        api, html = _client(user, token), _client(user)
        for label, path in urls.items():
            client = html if label.startswith("html") else api
            ms, status, statements = _in_process(client, path)
            metrics[f"{label}_in_process_ms"] = round(ms, 1)
            metrics[f"{label}_in_process_status"] = status
            metrics[f"{label}_queries"] = len(statements)
            metrics[f"{label}_all_sql_on_cursor_ms"] = round(_ms(_run_statements(statements), repeat=5), 2)
            counts = [sql for sql in statements if _is_count(sql) and "orders_" in sql]
            if counts and not label.startswith("minimal"):
                metrics[f"plan_{label}_count"] = _plan(counts[0], [])
                metrics[f"{label}_count_sql_ms"] = round(_ms(_run_statements(counts[:1]), repeat=5), 2)
    return metrics


def _start_server(port):
    from benchmarks.cases import _start_gunicorn

    root = str(Path(__file__).resolve().parents[1])
    saved = {k: os.environ.get(k) for k in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.orders_settings"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, saved["PYTHONPATH"]]))
    try:
        return _start_gunicorn(port)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def list_urls(customer, lot):
    """The measured URLs: minimal view, API, HTML for each filter, and the lot trace."""
    return {
        "minimal_status": f"/_bench/orders-minimal/?status={LIST_STATUS}",
        "api_status": f"/api/orders/?status={LIST_STATUS}",
        "html_status": f"/orders/?status={LIST_STATUS}",
        "minimal_customer": f"/_bench/orders-minimal/?customer={customer}",
        "api_customer": f"/api/orders/?customer={customer}",
        "html_customer": f"/orders/?customer={customer}",
        "minimal_trace": f"/_bench/trace-minimal/{quote(lot)}/",
        "api_trace": f"/api/trace/lots/{quote(lot)}/",
    }


def web_metrics(user, token, urls, raw_ms, args):
    """Load test on gunicorn (2 workers): req/s of every URL, ratios to the minimal view and raw SQL."""
    from django.core.management import call_command
    from django.db import connection

    from benchmarks.cases import WEB_WORKERS, _free_port, _interleaved_load
    from benchmarks.customers import _status

    call_command("collectstatic", interactive=False, verbosity=0)  # the pages need the manifest
    connection.close()
    port = _free_port()
    server = _start_server(port)
    metrics = {"connections": args.connections}
    urls = dict(urls)
    try:
        for label, path in list(urls.items()):
            status, _body = _status(port, path, token)
            metrics[f"{label}_status"] = status
            if status != 200:
                print(f"  {label}: {path} answered {status}; not measured", flush=True)
                del urls[label]
        measured = _interleaved_load(port, urls, token, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for label, result in measured.items():
        metrics[f"{label}_req_per_s"] = result["requests_per_s"]
        metrics[f"{label}_errors"] = result["errors"]
        metrics["load_tool"] = result["tool"]
    for case in ("status", "customer", "trace"):
        minimal = measured.get(f"minimal_{case}", {}).get("requests_per_s")
        for kind in ("api", "html"):
            rate = measured.get(f"{kind}_{case}", {}).get("requests_per_s")
            if not (rate and minimal):
                continue
            metrics[f"ratio_{kind}_{case}_to_minimal"] = round(rate / minimal, 3)
            if case != "trace":
                metrics[f"budget_{kind}_{case}_to_minimal"] = BUDGETS[kind]
                metrics[f"{kind}_{case}_within_budget"] = rate / minimal >= BUDGETS[kind]
            if raw_ms.get(case):
                metrics[f"ratio_{kind}_{case}_to_raw_sql"] = round(
                    WEB_WORKERS * 1000 / rate / raw_ms[case], 2
                )
    return metrics


# --- 2. traceability -------------------------------------------------------------------------
#: A hand-written lower bound of the trace: the same columns, joins and order, no ORM.
TRACE_RAW_SQL = """
SELECT l.id, l.lot_number, l.serial_number, l.quantity, l.shipped_on, l.production_date, l.expiry_date,
       l.shipment_id, s.number, s.delivery_note_number, l.order_id, o.number, o.customer_reference,
       l.customer_id, c.code, c.name, l.product_id, p.code, p.name, p.model, p.manufacturer
FROM orders_shipmentline l
JOIN orders_shipment s ON s.id = l.shipment_id
JOIN orders_order o ON o.id = l.order_id
JOIN customers_customer c ON c.id = l.customer_id
JOIN catalog_product p ON p.id = l.product_id
WHERE l.lot_number = %s
ORDER BY l.shipped_on, l.id
"""


def _typical_lot(wide_lot):
    """A lot of ordinary size (the median count among lots of one product) for comparison."""
    from django.db.models import Count

    from qcare.orders.models import ShipmentLine

    product = (
        ShipmentLine.objects.exclude(lot_number__in=["", wide_lot])
        .values_list("product_id", flat=True)
        .first()
    )
    sizes = list(
        ShipmentLine.objects.filter(product_id=product)
        .exclude(lot_number__in=["", wide_lot])
        .values("lot_number")
        .annotate(n=Count("id"))
        .order_by("n", "lot_number")
    )
    return sizes[len(sizes) // 2]["lot_number"] if sizes else None


def trace_metrics(user, token, lot):
    """trace_lot (all rows / first page), the API and the raw SQL for ``lot`` and a typical lot."""
    from django.test.utils import override_settings

    from qcare.orders.selectors import trace_lot

    metrics = {}
    cases = {"wide": lot}
    typical = _typical_lot(lot)
    if typical:
        cases["typical"] = typical
    for label, number in cases.items():
        qs = trace_lot(user, number)
        sql, params = qs.query.sql_with_params()
        all_ms, rows = _timed(lambda qs=qs: list(qs.all()), 10)
        page_ms, _ = _timed(lambda qs=qs: (qs.count(), list(qs[:PAGE_SIZE])), 10)
        orm_sql_ms = _ms(_raw(sql, params), repeat=10)
        hand_ms = _ms(_raw(TRACE_RAW_SQL, [number]), repeat=10)
        count_sql, count_params = qs.values("pk").query.sql_with_params()
        page_sql, page_params = qs[:PAGE_SIZE].query.sql_with_params()
        raw_page_ms = _ms(_raw(f"SELECT COUNT(*) FROM ({count_sql}) c", count_params), 10) + _ms(  # noqa: S608
            _raw(page_sql, page_params), 10
        )
        metrics[f"trace_{label}_lot"] = number
        metrics[f"trace_{label}_rows"] = len(rows)
        metrics[f"trace_{label}_customers"] = len({r["customer_id"] for r in rows})
        metrics[f"trace_{label}_selector_all_rows_ms"] = round(all_ms, 2)
        metrics[f"trace_{label}_raw_sql_all_rows_ms"] = round(orm_sql_ms, 2)
        metrics[f"trace_{label}_hand_sql_all_rows_ms"] = round(hand_ms, 2)
        metrics[f"ratio_trace_{label}_selector_to_raw_sql"] = round(all_ms / orm_sql_ms, 2)
        metrics[f"trace_{label}_selector_page_ms"] = round(page_ms, 2)
        metrics[f"trace_{label}_raw_sql_page_ms"] = round(raw_page_ms, 2)
        metrics[f"ratio_trace_{label}_page_to_raw_sql"] = round(page_ms / raw_page_ms, 2)
        path = f"/api/trace/lots/{quote(number)}/?page_size={API_PAGE_SIZE}"
        with override_settings(ALLOWED_HOSTS=["*"]):
            client = _client(user, token)
            api_ms, status, statements = _in_process(client, path)
            queries = len(statements)
            pages = -(-len(rows) // API_PAGE_SIZE)
            walk_ms, _ = _timed(
                lambda c=client, p=path, n=pages: [c.get(f"{p}&page={k}") for k in range(1, n + 1)],
                SLOW_REPEAT,
            )
        raw_api_page_ms = (
            _ms(_raw(f"SELECT COUNT(*) FROM ({count_sql}) c", count_params), 10)
            + _ms(  # noqa: S608
                _raw(*qs[:API_PAGE_SIZE].query.sql_with_params()), 10
            )
        )
        metrics[f"trace_{label}_api_status"] = status
        metrics[f"trace_{label}_api_page_{API_PAGE_SIZE}_in_process_ms"] = round(api_ms, 1)
        metrics[f"trace_{label}_api_queries"] = queries
        metrics[f"trace_{label}_raw_sql_page_{API_PAGE_SIZE}_ms"] = round(raw_api_page_ms, 2)
        metrics[f"ratio_trace_{label}_api_page_to_raw_sql"] = round(api_ms / raw_api_page_ms, 2)
        metrics[f"trace_{label}_api_all_pages"] = pages
        metrics[f"trace_{label}_api_all_pages_ms"] = round(walk_ms, 1)
        metrics[f"plan_trace_{label}"] = _plan(sql, params)
    metrics["budget_trace_wide_seconds"] = BUDGETS["trace_lot_seconds"]
    metrics["trace_wide_within_budget"] = (
        metrics["trace_wide_selector_all_rows_ms"] < 1000
        and metrics[f"trace_wide_api_page_{API_PAGE_SIZE}_in_process_ms"] < 1000
    )
    return metrics


# --- 3. review-cycle report --------------------------------------------------------------------
#: The same rows as the report's three queries, hand-written: no ORDER BY, only the columns used.
def _same_rows_sql(year):
    from datetime import date

    from django.db import connection
    from django.utils import timezone

    start, end = f"{year - 1}-12-31 16:00:00", f"{year}-12-31 16:00:00"  # the Asia/Shanghai year in UTC
    if connection.vendor == "postgresql":
        start, end = f"'{start}+00'", f"'{end}+00'"
    else:
        start, end = f"'{start}'", f"'{end}'"
    last_day = min(date(year, 12, 31), timezone.localdate())
    return [
        "SELECT r.started_at, r.signed_at, o.order_class, d.code, d.name, d.name_en FROM orders_orderreview r "
        "JOIN orders_order o ON o.id = r.order_id JOIN accounts_department d ON d.id = r.department_id "
        f"WHERE r.signed_at >= {start} AND r.signed_at < {end}",
        "SELECT submitted_at, approved_at, order_class, change_count FROM orders_order "
        f"WHERE approved_at >= {start} AND approved_at < {end}",
        "SELECT COUNT(*), SUM(CASE WHEN COALESCE((SELECT SUM(s.quantity) FROM orders_shipmentline s "
        "WHERE s.order_line_id = l.id AND s.shipped_on <= l.requested_date), 0) >= l.quantity "
        "THEN 1 ELSE 0 END) FROM orders_orderline l JOIN orders_order o ON o.id = l.order_id "
        f"WHERE l.requested_date >= '{year}-01-01' AND l.requested_date <= '{last_day}' AND o.status IN "
        "('approved', 'partially_shipped', 'shipped', 'closed')",
    ]


def report_metrics(user, year):
    """review_cycle_report vs the raw SQL of the same rows; the calendar's share shown apart."""
    from qcare.orders import selectors

    report_ms, report = _timed(lambda: selectors.review_cycle_report(user, year), SLOW_REPEAT)
    statements = [
        sql for sql in _statements(lambda: selectors.review_cycle_report(user, year)) if "orders_" in sql
    ]
    own_sql_ms, fetched = _timed(_run_statements(statements), SLOW_REPEAT)
    hand = _same_rows_sql(year)
    hand_ms, hand_rows = _timed(_run_statements(hand), SLOW_REPEAT)

    # The calendar's share: working hours of the fetched review and order rows, nothing else.
    start, end = selectors._year_bounds(year)
    pairs = list(
        selectors.OrderReview.objects.filter(signed_at__gte=start, signed_at__lt=end)
        .order_by()
        .values_list("started_at", "signed_at")
    ) + list(
        selectors.Order.objects.filter(
            approved_at__gte=start, approved_at__lt=end, submitted_at__isnull=False
        )
        .order_by()
        .values_list("submitted_at", "approved_at")
    )
    calendar_ms, _ = _timed(lambda: [selectors._hours(a, b) for a, b in pairs], 1)

    review_stats = report["review_cycle"]["overall"]
    metrics = {
        "report_year": year,
        "report_reviews": review_stats["count"],
        "report_review_hours_mean": review_stats["mean"],
        "report_review_hours_median": review_stats["median"],
        "report_orders_approved": report["changed_after_approval"]["approved"],
        "report_changed_share": report["changed_after_approval"]["share"],
        "report_on_time_lines_due": report["on_time_delivery"]["due"],
        "report_on_time_share": report["on_time_delivery"]["share"],
        "report_queries_on_orders": len(statements),
        "report_selector_ms": round(report_ms, 1),
        "report_own_sql_on_cursor_ms": round(own_sql_ms, 1),
        "report_own_sql_rows": fetched,
        "report_same_rows_hand_sql_ms": round(hand_ms, 1),
        "report_same_rows_hand_sql_rows": hand_rows,
        "ratio_report_to_own_sql": round(report_ms / own_sql_ms, 2),
        "ratio_report_to_raw_sql": round(report_ms / hand_ms, 2),
        "budget_report_to_raw_sql": BUDGETS["report_to_raw_sql"],
        "report_within_budget": report_ms / hand_ms <= BUDGETS["report_to_raw_sql"],
        "report_working_hours_calls": len(pairs),
        "report_working_hours_ms": round(calendar_ms, 1),
        "report_working_hours_us_per_call": round(calendar_ms * 1000 / max(1, len(pairs)), 1),
        "ratio_report_without_calendar_to_raw_sql": round((report_ms - calendar_ms) / hand_ms, 2),
    }
    for index, sql in enumerate(statements):
        metrics[f"report_query{index + 1}_ms"] = round(_timed(_run_statements([sql]), 1)[0], 1)
        metrics[f"plan_report_query{index + 1}"] = _plan(sql, [])
    for index, sql in enumerate(hand):
        metrics[f"report_hand_query{index + 1}_ms"] = round(_timed(_run_statements([sql]), 1)[0], 1)
        metrics[f"plan_report_hand_query{index + 1}"] = _plan(sql, [])
    return metrics


# --- index experiments -----------------------------------------------------------------------
#: (name, columns, what it is for) — created one at a time, measured, dropped again.
CANDIDATE_INDEXES = (
    ("bench_review_signed", "orders_orderreview (signed_at)", "report: reviews signed in the year"),
    ("bench_order_approved", "orders_order (approved_at)", "report: orders approved in the year"),
    ("bench_line_requested", "orders_orderline (requested_date)", "report: lines due in the year"),
    (
        "bench_shipline_lot_date",
        "orders_shipmentline (lot_number, shipped_on, id)",
        "trace: lot page in order",
    ),
    ("bench_review_dept_order", "orders_orderreview (department_id, order_id)", "department scope subquery"),
)


def index_experiments(user, dept_user, year, lot):
    """For each candidate index: the statements it is meant for, timed without and with it."""
    from django.db import connection

    from benchmarks.orders_urls import minimal_page, minimal_queryset
    from qcare.orders import selectors

    report = [
        sql for sql in _statements(lambda: selectors.review_cycle_report(user, year)) if "orders_" in sql
    ]
    hand = _same_rows_sql(year)
    dept = minimal_queryset(dept_user, status=LIST_STATUS)
    targets = {
        "bench_review_signed": [s for s in report + hand if "FROM orders_orderreview" in s.replace('"', "")],
        "bench_order_approved": [s for s in report + hand if "orderreview" not in s and "approved_at" in s],
        "bench_line_requested": [s for s in report + hand if "requested_date" in s],
        "bench_shipline_lot_date": _statements(lambda: list(selectors.trace_lot(user, lot)[:API_PAGE_SIZE])),
        "bench_review_dept_order": _statements(lambda: (dept.count(), list(minimal_page(dept)))),
    }
    metrics = {}
    for name, columns, purpose in CANDIDATE_INDEXES:
        statements = targets[name]
        before = _timed(_run_statements(statements), SLOW_REPEAT)[0]
        started = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE INDEX {name} ON {columns}")
            cursor.execute("ANALYZE")
        build = time.perf_counter() - started
        try:
            after = _timed(_run_statements(statements), SLOW_REPEAT)[0]
            metrics[f"index_{name}_plans"] = " || ".join(_plan(sql, []) for sql in statements)
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX {name}")
        metrics[f"index_{name}"] = f"{columns} — {purpose}"
        metrics[f"index_{name}_statements"] = len(statements)
        metrics[f"index_{name}_before_ms"] = round(before, 1)
        metrics[f"index_{name}_after_ms"] = round(after, 1)
        metrics[f"index_{name}_build_s"] = round(build, 1)
    return metrics


# --- entry points ------------------------------------------------------------------------------
def orders(size, args):
    """The whole benchmark (the runner's entry point): data, then list, trace and report."""
    from benchmarks import orders_generate
    from qcare.accounts.tokens import create_token
    from qcare.orders.selectors import trace_lot  # noqa: F401 (fail early if the selectors are missing)

    info = orders_generate.ensure_data(size)
    user, dept_user = _users()
    _, token = create_token(user, "benchmark")
    metrics = {f"rows_{table}": count for table, count in info["rows"].items()}
    metrics |= {
        "customers": info["customers"],
        "data_reused": info["reused"],
        "generate_seconds": info["seconds"]["total"],
        "generate_seconds_detail": info["seconds"],
        "wide_lot_customers": info["wide_lot_customers"],
    }
    customer, customer_orders = _list_customer()
    metrics["list_customer_id"] = customer
    metrics["list_customer_orders"] = customer_orders
    print("  measuring the list queries …", flush=True)
    metrics |= list_sql_metrics(user, dept_user, customer)
    print("  measuring the trace …", flush=True)
    metrics |= trace_metrics(user, token, info["wide_lot"])
    print("  measuring the review-cycle report …", flush=True)
    metrics |= report_metrics(user, info["report_year"])
    urls = list_urls(customer, info["wide_lot"])
    print("  measuring the pages in process …", flush=True)
    metrics |= page_in_process_metrics(user, token, urls)
    if getattr(args, "try_indexes", False):
        print("  trying candidate indexes …", flush=True)
        metrics |= index_experiments(user, dept_user, info["report_year"], info["wide_lot"])
    if not getattr(args, "skip_web", False):
        raw_ms = {
            "status": metrics["list_status_raw_sql_ms"],
            "customer": metrics["list_customer_raw_sql_ms"],
            "trace": metrics["trace_wide_raw_sql_page_ms"],
        }
        print("  load test …", flush=True)
        metrics |= web_metrics(user, token, urls, raw_ms, args)
    return metrics


def main(argv=None):
    """``python -m benchmarks.orders``: the runner's isolation; data reused when complete."""
    from benchmarks import runner

    argv = list(sys.argv[1:] if argv is None else argv)
    flags = {flag: flag in argv for flag in ("--skip-web", "--regenerate", "--try-indexes")}
    argv = [a for a in argv if a not in flags]
    if "--data-dir" not in argv:
        argv += ["--data-dir", DEFAULT_DATA_DIR]
    args = runner.parse_args(["list_endpoint", *argv])
    args.skip_web = flags["--skip-web"]
    args.try_indexes = flags["--try-indexes"]
    data_dir = runner.isolate(args)
    print(f"benchmark data: {data_dir}", flush=True)
    size = args.size or DEFAULT_SIZE

    from django.core.management import call_command

    from benchmarks import orders_generate

    call_command("migrate", verbosity=0, interactive=False)
    if flags["--regenerate"] or not orders_generate.existing_data(size):
        runner.fresh_database()
    started = time.perf_counter()
    metrics = orders(size, args)
    metrics["total_seconds"] = round(time.perf_counter() - started, 2)
    shown = {k: v for k, v in metrics.items() if not (k.startswith("plan_") or k.endswith("_plans"))}
    runner.print_table("orders", shown)
    for key, value in metrics.items():
        if key.startswith("plan_") or key.endswith("_plans"):
            print(f"\n{key}:\n  {value}")
    print(f"written: {runner.write_result(args.results_dir, 'orders', size, metrics)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
