"""The complaints benchmark (issue 5): 1,000,000 complaints (data: ``benchmarks/complaints_generate.py``),
then, each against its lower bound in the same run:

1. the complaint list (``selectors.complaint_list``: restrict, filters, newest first) with
   status + period + customer filters and with a Chinese search term (2 and 4 characters, alone
   and with filters): count + one page of 50 through the ORM against the same statements on a
   cursor (raw SQL) and against the minimal ``.values()`` page; the search budget is the customer
   benchmark's (≤ 3× the raw SQL); the HTML page and the API in process against the minimal view;
2. the deadline scan of the reminder job (``jobs.due_deadlines`` read through ``jobs._batches``
   for every stage, as ``send_deadline_reminders`` reads them) over all open complaints: idle
   (steady state: every stage already sent), with a backlog (every stage of every open deadline
   unsent — the job was down), and the whole job with notifications on a backlog of 500; time
   per 10,000 open complaints;
3. ``reports.complaint_statistics(user, year)`` for one year against hand-written grouped SQL
   producing the same figures (budget ≤ 1.5×), plus the date-truncation trap on SQLite;
4. ``services_notices.affected_customers(notice)`` for a lot shipped to 5,000 customers
   against the raw SQL of the same rows.

Standalone (reuses the generated data when it is complete)::

    python -m benchmarks.complaints [--size N] [--data-dir D] [--database-url URL]
                                    [--regenerate] [--keep-data] [--web]

Default data dir ``/tmp/qcare-bench-complaints``; PostgreSQL needs a database whose name
contains "bench". ``--web`` adds the load test on gunicorn (2 workers) of the minimal view, the
API and the HTML list. Through the runner (``python -m benchmarks complaints``) the database
is rebuilt from scratch, as for every runner benchmark.
"""

import sys
import time
from urllib.parse import urlencode

from benchmarks.customers import _ms, _plan, _raw
from benchmarks.orders import _client, _timed

DEFAULT_SIZE = 1_000_000
DEFAULT_DATA_DIR = "/tmp/qcare-bench-complaints"  # noqa: S108 (a benchmark scratch dir)
PAGE_SIZE = 50
SLOW_REPEAT = 3
BUDGETS = {
    "search_to_raw_sql": 3.0,
    "statistics_to_raw_sql": 1.5,
    "affected_customers_seconds": 1.0,
    "api": 0.60,
    "html": 0.40,
}
JOB_SAMPLE = 500  # deadlines notified in the whole-job measurement
RARE_TERM = "鼻夹"  # a rarer 2-character word (~1.5 % of the complaints: masks' nose clips)


def _statements(callable_):
    """The (sql, params) pairs ``callable_`` executes, as sent to the driver.

    Not the orders benchmark's inlined SQL text: on PostgreSQL that text is decoded from the
    driver's buffer and broke on Chinese search terms (UnicodeDecodeError); parameters are
    also how the application runs the statements.
    """
    from django.db import connection

    calls = []

    def record(execute, sql, params, many, context):
        calls.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(record):
        callable_()
    return calls


def _run_statements(statements):
    """A callable executing ``statements`` ((sql, params) pairs or plain SQL) and fetching every row."""
    from django.db import connection

    pairs = [(s, None) if isinstance(s, str) else s for s in statements]

    def run():
        rows = 0
        with connection.cursor() as cursor:
            for sql, params in pairs:
                cursor.execute(sql, params)
                rows += len(cursor.fetchall())
        return rows

    return run


def _in_process(client, path, repeat=10):
    """(median ms, status, statements) of ``GET path`` in this process (no HTTP server)."""

    def get():
        return client.get(path)

    ms, response = _timed(get, repeat)
    return ms, response.status_code, _statements(get)


def _user():
    from qcare.accounts.models import User

    return User.objects.get(username="bench")


def _list_customer():
    """The customer with the most complaints (the customer filter's case) and its count."""
    from django.db.models import Count

    from qcare.complaints.models import Complaint

    row = (
        Complaint.objects.values("customer_id").annotate(n=Count("id")).order_by("-n", "customer_id").first()
    )
    return row["customer_id"], row["n"]


# --- 1. complaint list ---------------------------------------------------------------------------
def _a_lot():
    """A lot number named in a recent complaint (the Latin / lot-number search case)."""
    from qcare.complaints.models import Complaint

    return Complaint.objects.exclude(lot_number="").order_by("-pk").values_list("lot_number", flat=True)[0]


def list_cases(info, customer, lot):
    """The measured filter sets (``selectors.filter_complaints`` parameters)."""
    year = info["report_year"]
    quarter = {"period_from": f"{year}-04", "period_to": f"{year}-06"}
    return {
        "status_period": {"status": "closed", **quarter},
        "status_period_customer": {
            "status": "closed",
            "customer": str(customer),
            "period_from": f"{year}-01",
            "period_to": f"{year}-12",
        },  # fmt: skip
        "open": {"status": "open"},
        "search_short": {"q": info["short_term"]},
        "search_long": {"q": info["long_term"]},
        "search_rare": {"q": RARE_TERM},
        "search_lot": {"q": lot},
        "search_short_filters": {"q": info["short_term"], "status": "closed", **quarter},
        "search_long_filters": {
            "q": info["long_term"],
            "status": "closed",
            "customer": str(customer),
            "period_from": f"{year - 2}-01",
            "period_to": f"{year}-12",
        },  # fmt: skip
    }


def list_metrics(user, cases):
    """Per case: the list selector (count + 50 model rows) and the minimal ``.values()`` page,
    each against its own statements run on a cursor."""
    from benchmarks.complaints_urls import minimal_page, minimal_queryset
    from qcare.complaints.selectors import complaint_list

    metrics = {}
    for label, params in cases.items():
        qs = complaint_list(user, params)
        minimal = minimal_queryset(user, params)

        def orm(qs=qs):
            return qs.count(), list(qs[:PAGE_SIZE])

        def values(minimal=minimal):
            return minimal.count(), list(minimal_page(minimal))

        started = time.perf_counter()
        statements = _statements(orm)
        # Fewer repetitions for slow cases (a page of open complaints took 13 s on SQLite).
        probe = time.perf_counter() - started
        repeat = 10 if probe < 0.2 else (3 if probe < 2 else 1)
        raw_ms = _ms(_run_statements(statements), repeat=repeat)
        orm_ms = _ms(orm, repeat=repeat)
        value_statements = _statements(values)
        values_raw_ms = _ms(_run_statements(value_statements), repeat=repeat)
        values_ms = _ms(values, repeat=repeat)
        metrics[f"list_{label}_params"] = urlencode(params)
        metrics[f"list_{label}_rows"] = qs.count()
        metrics[f"list_{label}_raw_sql_ms"] = round(raw_ms, 2)
        metrics[f"list_{label}_orm_ms"] = round(orm_ms, 2)
        metrics[f"ratio_list_{label}_orm_to_raw_sql"] = round(orm_ms / raw_ms, 2) if raw_ms else None
        metrics[f"list_{label}_values_raw_sql_ms"] = round(values_raw_ms, 2)
        metrics[f"list_{label}_values_ms"] = round(values_ms, 2)
        metrics[f"ratio_list_{label}_values_to_raw_sql"] = (
            round(values_ms / values_raw_ms, 2) if values_raw_ms else None
        )
        for sql, params in statements:
            kind = "count" if "COUNT(" in sql.upper() else "page"
            metrics[f"plan_list_{label}_{kind}"] = _plan(sql, params)
            metrics[f"list_{label}_{kind}_sql_ms"] = round(
                _ms(_run_statements([(sql, params)]), repeat=repeat), 2
            )
        if label.startswith("search"):
            budget = BUDGETS["search_to_raw_sql"]
            metrics[f"budget_{label}_to_raw_sql"] = budget
            metrics[f"{label}_within_budget"] = orm_ms / raw_ms <= budget if raw_ms else None
    return metrics


def scan_metrics(term):
    """The search term's matches alone: index vs a plain scan of ``search_text`` (the lower bound
    a missing index would have), ids only."""
    from django.db import connection

    from qcare.complaints.models import Complaint
    from qcare.complaints.search import search_complaints

    qs = search_complaints(Complaint.objects.order_by(), term).values_list("pk", flat=True)
    sql, params = qs.query.sql_with_params()
    index_ms = _ms(_raw(sql, params), repeat=5)
    if connection.vendor == "sqlite":
        scan_sql = "SELECT id FROM complaints_complaint WHERE instr(search_text, %s) > 0"
    else:
        scan_sql = "SELECT id FROM complaints_complaint WHERE strpos(search_text, %s) > 0"
    scan_ms = _ms(_raw(scan_sql, [term]), repeat=3)
    return {
        f"search_{term}_ids_index_ms": round(index_ms, 2),
        f"search_{term}_ids_scan_ms": round(scan_ms, 1),
        f"search_{term}_matches": len(_raw(sql, params)()),
        f"search_{term}_matches_by_scan": len(_raw(scan_sql, [term])()),
        f"plan_search_{term}_ids": _plan(sql, params),
    }


def page_urls(cases):
    urls = {}
    for label in ("status_period_customer", "search_short_filters", "search_long", "search_rare"):
        query = urlencode(cases[label])
        urls[f"minimal_{label}"] = f"/_bench/complaints-minimal/?{query}"
        urls[f"api_{label}"] = f"/api/complaints/?{query}"
        urls[f"html_{label}"] = f"/complaints/?{query}"
    return urls


def page_metrics(user, token, urls):
    """Each page in this process: ms, status, queries; ratio of the minimal view's time to the page's."""
    from django.core.management import call_command
    from django.test.utils import override_settings

    call_command("collectstatic", interactive=False, verbosity=0)  # the pages need the manifest
    metrics = {}
    timings = {}
    with override_settings(ALLOWED_HOSTS=["*"], ROOT_URLCONF="benchmarks.complaints_urls"):
        api, html = _client(user, token), _client(user)
        for label, path in urls.items():
            client = html if label.startswith("html") else api
            try:
                ms, status, statements = _in_process(client, path, repeat=5)
            except Exception as exc:  # a screen not finished yet: say so, measure the rest
                metrics[f"{label}_error"] = f"{type(exc).__name__}: {exc}"[:300]
                continue
            metrics[f"{label}_in_process_ms"] = round(ms, 1)
            metrics[f"{label}_in_process_status"] = status
            metrics[f"{label}_queries"] = len(statements)
            if status == 200:
                timings[label] = ms
    for label, ms in timings.items():
        kind, _sep, case = label.partition("_")
        if kind in ("api", "html") and f"minimal_{case}" in timings:
            share = timings[f"minimal_{case}"] / ms
            metrics[f"share_{label}_of_minimal"] = round(share, 2)
            metrics[f"budget_{label}_of_minimal"] = BUDGETS[kind]
            metrics[f"{label}_within_budget_in_process"] = share >= BUDGETS[kind]
    return metrics


def web_metrics(token, urls, args):
    """Load test on gunicorn (2 workers): req/s of every URL and the share of the minimal view."""
    import os
    from pathlib import Path

    from django.core.management import call_command
    from django.db import connection

    from benchmarks.cases import _free_port, _interleaved_load, _start_gunicorn
    from benchmarks.customers import _status

    call_command("collectstatic", interactive=False, verbosity=0)
    connection.close()
    port = _free_port()
    root = str(Path(__file__).resolve().parents[1])
    saved = {k: os.environ.get(k) for k in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.complaints_settings"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, saved["PYTHONPATH"]]))
    try:
        server = _start_gunicorn(port)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    metrics, urls = {"connections": args.connections}, dict(urls)
    try:
        for label, path in list(urls.items()):
            status, _body = _status(port, path, token)
            metrics[f"web_{label}_status"] = status
            if status != 200:
                del urls[label]
        measured = _interleaved_load(port, urls, token, args)
    finally:
        server.terminate()
        server.wait(timeout=30)
    for label, result in measured.items():
        metrics[f"web_{label}_req_per_s"] = result["requests_per_s"]
        metrics[f"web_{label}_errors"] = result["errors"]
        metrics["load_tool"] = result["tool"]
    for label, result in measured.items():
        kind, _sep, case = label.partition("_")
        minimal = measured.get(f"minimal_{case}", {}).get("requests_per_s")
        if kind in ("api", "html") and minimal:
            share = result["requests_per_s"] / minimal
            metrics[f"ratio_web_{label}_to_minimal"] = round(share, 3)
            metrics[f"web_{label}_within_budget"] = share >= BUDGETS[kind]
    return metrics


# --- 2. deadline scan ------------------------------------------------------------------------------
def _scan_all(now):
    """What the job reads: every stage's due deadlines through its keyset batches (no claims)."""
    from qcare.complaints import jobs

    rows = 0
    for stage in jobs.STAGES:
        for deadline in jobs._batches(jobs.due_deadlines(stage, now), stage.time_field):
            rows += 1
            deadline.complaint.customer  # noqa: B018 (the job reads them for the notice)
    return rows


def _unsend(where):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE complaints_complaintdeadline SET warned_at = NULL, reminded_at = NULL, escalated_at = NULL, "
            f"escalated2_at = NULL WHERE met_at IS NULL {where}"
        )
        return cursor.rowcount


def deadline_metrics():
    """The reminder job's scan over all open complaints: idle, with a backlog, and the whole job."""
    from django.db import connection, transaction
    from django.utils import timezone

    from qcare.complaints import jobs
    from qcare.complaints.choices import OPEN_STATUSES
    from qcare.complaints.models import Complaint, ComplaintDeadline

    now = timezone.now()
    open_cases = Complaint.objects.filter(status__in=OPEN_STATUSES).count()
    open_deadlines = ComplaintDeadline.objects.filter(met_at__isnull=True).count()
    per_10k = 10_000 / max(1, open_cases)
    metrics = {"deadline_open_complaints": open_cases, "deadline_open_deadlines": open_deadlines}

    idle_ms, idle_rows = _timed(lambda: _scan_all(now), SLOW_REPEAT)
    statements = _statements(lambda: _scan_all(now))
    idle_raw_ms = _ms(_run_statements(statements), repeat=SLOW_REPEAT)
    metrics |= {
        "deadline_idle_scan_rows": idle_rows,
        "deadline_idle_scan_queries": len(statements),
        "deadline_idle_scan_ms": round(idle_ms, 1),
        "deadline_idle_scan_raw_sql_ms": round(idle_raw_ms, 1),
        "deadline_idle_scan_ms_per_10k_open": round(idle_ms * per_10k, 1),
    }
    for index, stage in enumerate(jobs.STAGES):
        sql, params = (
            jobs.due_deadlines(stage, now)
            .order_by(stage.time_field, "pk")[: jobs.BATCH]
            .query.sql_with_params()
        )
        metrics[f"plan_deadline_{stage.code}"] = _plan(sql, params)
        if index == 0:
            metrics["deadline_scan_sql_example"] = sql

    # A backlog: every stage of every open deadline unsent (the job was down), then rolled back.
    with transaction.atomic():
        unsent = _unsend("")
        backlog_ms, backlog_rows = _timed(lambda: _scan_all(now), 1)
        statements = _statements(lambda: _scan_all(now))
        backlog_raw_ms = _ms(_run_statements(statements), repeat=1)
        transaction.set_rollback(True)
    metrics |= {
        "deadline_backlog_deadlines_unsent": unsent,
        "deadline_backlog_scan_rows": backlog_rows,
        "deadline_backlog_scan_queries": len(statements),
        "deadline_backlog_scan_ms": round(backlog_ms, 1),
        "deadline_backlog_scan_raw_sql_ms": round(backlog_raw_ms, 1),
        "ratio_deadline_backlog_scan_to_raw_sql": round(backlog_ms / backlog_raw_ms, 2)
        if backlog_raw_ms
        else None,
        "deadline_backlog_scan_ms_per_10k_open": round(backlog_ms * per_10k, 1),
    }

    # The whole job (claims + notifications) on a backlog of JOB_SAMPLE deadlines, rolled back.
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id FROM complaints_complaintdeadline WHERE met_at IS NULL AND warn_at <= %s "
                "ORDER BY id LIMIT %s",
                [now, JOB_SAMPLE],
            )
            ids = [row[0] for row in cursor.fetchall()]
        _unsend(f"AND id IN ({', '.join(str(i) for i in ids) or '0'})")
        try:
            started = time.perf_counter()
            counts = jobs.send_deadline_reminders(now)
            job_ms = (time.perf_counter() - started) * 1000
            notified = sum(counts.values())
            metrics |= {
                "deadline_job_sample_deadlines": len(ids),
                "deadline_job_notified_stages": notified,
                "deadline_job_counts": counts,
                "deadline_job_ms": round(job_ms, 1),
                "deadline_job_ms_per_notified_stage": round(job_ms / max(1, notified), 2),
            }
        except Exception as exc:  # templates or recipients missing: report, do not stop the run
            metrics["deadline_job_error"] = f"{type(exc).__name__}: {exc}"[:300]
        transaction.set_rollback(True)
    return metrics


# --- 3. monthly statistics ----------------------------------------------------------------------
def _statistics_sql(year):
    """Hand-written SQL of the same figures as ``complaint_statistics`` (one year, no filters)."""
    a, b = f"'{year}-01'", f"'{year}-12'"
    received = f"period >= {a} AND period <= {b}"
    closed = f"closed_period >= {a} AND closed_period <= {b}"
    return [
        f"SELECT period, COUNT(*), SUM(CASE WHEN is_repeat THEN 1 ELSE 0 END) FROM complaints_complaint "
        f"WHERE {received} GROUP BY period",
        "SELECT closed_period, COUNT(*), SUM(CASE WHEN closed_on_time THEN 1 ELSE 0 END), SUM(days_to_close), "
        f"COUNT(days_to_close), SUM(loss_amount) FROM complaints_complaint WHERE {closed} GROUP BY closed_period",
        f"SELECT k.customer_id, COUNT(*), MIN(c.code), MIN(c.name) FROM complaints_complaint k "
        f"JOIN customers_customer c ON c.id = k.customer_id WHERE k.period >= {a} AND k.period <= {b} "
        "GROUP BY k.customer_id",
        f"SELECT k.product_id, COUNT(*), MIN(p.code), MIN(p.name) FROM complaints_complaint k "
        f"LEFT JOIN catalog_product p ON p.id = k.product_id WHERE k.period >= {a} AND k.period <= {b} "
        "GROUP BY k.product_id",
        f"SELECT category, COUNT(*) FROM complaints_complaint WHERE {received} GROUP BY category",
        f"SELECT cause_category, COUNT(*) FROM complaints_complaint WHERE {received} GROUP BY cause_category",
        "SELECT r.kind, COALESCE(r.department_id, u.department_id), COUNT(DISTINCT r.complaint_id), SUM(r.share), "
        "SUM(r.amount) FROM complaints_responsibleparty r LEFT JOIN accounts_user u ON u.id = r.person_id "
        f"WHERE r.closed_period >= {a} AND r.closed_period <= {b} GROUP BY 1, 2",
    ]


def _truncation_sql(year):
    """The month grouping done by truncating the timestamp in SQL (what the stored period avoids)."""
    from django.db import connection

    if connection.vendor == "sqlite":
        month = "strftime('%Y-%m', received_at, '+8 hours')"
        where = f"received_at >= '{year - 1}-12-31 16:00:00' AND received_at < '{year}-12-31 16:00:00'"
    else:
        month = "to_char(received_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM')"
        where = f"received_at >= '{year - 1}-12-31 16:00:00+00' AND received_at < '{year}-12-31 16:00:00+00'"
    return f"SELECT {month}, COUNT(*) FROM complaints_complaint WHERE {where} GROUP BY 1"


def statistics_metrics(user, year):
    """complaint_statistics for one year vs the hand SQL; the TruncMonth way for comparison."""
    from django.db.models import Count
    from django.db.models.functions import TruncMonth

    from qcare.complaints import reports
    from qcare.complaints.models import Complaint

    def run():
        return reports.complaint_statistics(user, period_from=f"{year}-01", period_to=f"{year}-12")

    report_ms, report = _timed(run, SLOW_REPEAT)
    statements = _statements(run)
    own_sql_ms, _rows = _timed(_run_statements(statements), SLOW_REPEAT)
    hand = _statistics_sql(year)
    hand_ms, _hand_rows = _timed(_run_statements(hand), SLOW_REPEAT)
    trunc_sql_ms, _ = _timed(_run_statements([_truncation_sql(year)]), SLOW_REPEAT)
    by_period_ms, _ = _timed(_run_statements(hand[:1]), SLOW_REPEAT)
    start, end = reports_year_bounds(year)

    def trunc_orm():
        return list(
            Complaint.objects.filter(received_at__gte=start, received_at__lt=end)
            .order_by()
            .annotate(month=TruncMonth("received_at"))
            .values("month")
            .annotate(n=Count("pk"))
        )

    trunc_orm_ms, _ = _timed(trunc_orm, 1)
    totals = report["totals"]
    metrics = {
        "statistics_year": year,
        "statistics_received": totals["received"],
        "statistics_closed": totals["closed"],
        "statistics_on_time_rate": totals["on_time_rate"],
        "statistics_average_days_to_close": totals["average_days_to_close"],
        "statistics_repeat_rate": totals["repeat_rate"],
        "statistics_cost": str(totals["cost"]),
        "statistics_customers": len(report["by_customer"]),
        "statistics_queries": len(statements),
        "statistics_report_ms": round(report_ms, 1),
        "statistics_own_sql_on_cursor_ms": round(own_sql_ms, 1),
        "statistics_hand_sql_ms": round(hand_ms, 1),
        "ratio_statistics_to_own_sql": round(report_ms / own_sql_ms, 2),
        "ratio_statistics_to_raw_sql": round(report_ms / hand_ms, 2),
        "budget_statistics_to_raw_sql": BUDGETS["statistics_to_raw_sql"],
        "statistics_within_budget": report_ms / hand_ms <= BUDGETS["statistics_to_raw_sql"],
        "months_by_stored_period_sql_ms": round(by_period_ms, 1),
        "months_by_truncated_date_sql_ms": round(trunc_sql_ms, 1),
        "months_by_truncmonth_orm_ms": round(trunc_orm_ms, 1),
    }
    for index, (sql, params) in enumerate(statements):
        metrics[f"statistics_query{index + 1}_ms"] = round(_timed(_run_statements([(sql, params)]), 1)[0], 1)
        metrics[f"plan_statistics_query{index + 1}"] = _plan(sql, params)
        metrics[f"statistics_query{index + 1}_sql"] = sql[:400]
    for index, sql in enumerate(hand):
        metrics[f"statistics_hand_query{index + 1}_ms"] = round(_timed(_run_statements([sql]), 1)[0], 1)
    return metrics


def reports_year_bounds(year):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Shanghai")
    return datetime(year, 1, 1, tzinfo=zone), datetime(year + 1, 1, 1, tzinfo=zone)


# --- 4. affected customers of a notice --------------------------------------------------------------
AFFECTED_RAW_SQL = """
SELECT l.customer_id, c.code, c.name, s.number, l.lot_number, l.serial_number, l.quantity, l.shipped_on
FROM orders_shipmentline l
JOIN customers_customer c ON c.id = l.customer_id
JOIN orders_shipment s ON s.id = l.shipment_id
WHERE l.product_id = %s AND l.lot_number = %s
ORDER BY c.code, l.shipped_on, l.id
"""


def _wide_notice(lot):
    """A draft advisory notice on ``lot`` (the lot shipped to 5,000 customers), made once."""
    from qcare.complaints.models import AdvisoryNotice, NoticeItem
    from qcare.core.context import audit_context
    from qcare.orders.models import ShipmentLine

    product = ShipmentLine.objects.filter(lot_number=lot).values_list("product_id", flat=True).first()
    notice = AdvisoryNotice.objects.filter(number="AN-BENCH-001").first()
    if notice is None:
        with audit_context(actor=_user(), reason="benchmark"):
            notice = AdvisoryNotice.objects.create(
                number="AN-BENCH-001",
                title="批号 W2503-0001 忠告性通知",
                reason="灭菌记录偏差",
                risk="medium",
                action_required="请暂停使用并清点库存",
                created_by=_user(),
            )
            NoticeItem.objects.create(notice=notice, product_id=product, lot_number=lot)
    return notice, product


def affected_metrics(lot):
    """affected_customers(notice) for the wide lot vs the raw SQL of the same rows."""
    notice, product = _wide_notice(lot)
    raw_ms, raw_rows = _timed(_raw(AFFECTED_RAW_SQL, [product, lot]), 5)
    metrics = {
        "affected_lot": lot,
        "affected_raw_sql_rows": len(raw_rows),
        "affected_raw_sql_customers": len({r[0] for r in raw_rows}),
        "affected_raw_sql_ms": round(raw_ms, 1),
        "plan_affected_raw_sql": _plan(AFFECTED_RAW_SQL, [product, lot]),
    }
    try:
        from qcare.complaints.services_notices import affected_customers
    except ImportError:
        metrics["affected_error"] = "services_notices.affected_customers does not exist yet"
        return metrics
    ms, result = _timed(lambda: affected_customers(notice), 5)
    statements = _statements(lambda: affected_customers(notice))
    own_ms, _ = _timed(_run_statements(statements), 5)
    metrics |= {
        "affected_customers": len(result),
        "affected_shipments": sum(len(r.get("shipments", ())) for r in result),
        "affected_queries": len(statements),
        "affected_service_ms": round(ms, 1),
        "affected_own_sql_on_cursor_ms": round(own_ms, 1),
        "ratio_affected_to_raw_sql": round(ms / raw_ms, 2),
        "budget_affected_seconds": BUDGETS["affected_customers_seconds"],
        "affected_within_budget": ms < 1000 * BUDGETS["affected_customers_seconds"],
    }
    for index, (sql, params) in enumerate(statements[:5]):
        metrics[f"plan_affected_query{index + 1}"] = _plan(sql, params)
        metrics[f"affected_query{index + 1}_sql"] = sql[:400]
    return metrics


# --- entry points --------------------------------------------------------------------------------
def _step(metrics, label, function, *args):
    """Run one measurement; a missing piece of another helper's code is reported, not fatal."""
    print(f"  measuring {label} …", flush=True)
    started = time.perf_counter()
    try:
        metrics |= function(*args)
    except Exception as exc:  # noqa: BLE001 (benchmark: report and go on)
        metrics[f"{label}_error"] = f"{type(exc).__name__}: {exc}"[:500]
        print(f"    {label} failed: {metrics[f'{label}_error']}", flush=True)
    metrics[f"{label}_seconds"] = round(time.perf_counter() - started, 1)


def complaints(size, args):
    """The whole benchmark (the runner's entry point): data, then list, deadlines, statistics, notice."""
    from benchmarks import complaints_generate
    from qcare.accounts.tokens import create_token

    info = complaints_generate.ensure_data(size)
    user = _user()
    _, token = create_token(user, "benchmark")
    metrics = {f"rows_{table}": count for table, count in info["rows"].items()}
    metrics |= {
        "customers": info["customers"],
        "data_reused": info["reused"],
        "generate_seconds": info["seconds"]["total"],
        "generate_seconds_detail": info["seconds"],
        "wide_lot_customers": info["wide_lot_customers"],
    }
    customer, customer_complaints = _list_customer()
    metrics["list_customer_id"], metrics["list_customer_complaints"] = customer, customer_complaints
    lot = _a_lot()
    cases = list_cases(info, customer, lot)
    _step(metrics, "list", list_metrics, user, cases)
    for term in (info["short_term"], info["long_term"], RARE_TERM, lot.lower()):
        _step(metrics, f"search_{term}", scan_metrics, term)
    _step(metrics, "deadlines", deadline_metrics)
    _step(metrics, "statistics", statistics_metrics, user, info["report_year"])
    _step(metrics, "affected", affected_metrics, info["wide_lot"])
    urls = page_urls(cases)
    _step(metrics, "pages", page_metrics, user, token, urls)
    if getattr(args, "web", False):
        _step(metrics, "web", web_metrics, token, urls, args)
    return metrics


def main(argv=None):
    """``python -m benchmarks.complaints``: the runner's isolation; data reused when complete."""
    from benchmarks import runner

    argv = list(sys.argv[1:] if argv is None else argv)
    flags = {flag: flag in argv for flag in ("--web", "--regenerate", "--keep-data")}
    argv = [a for a in argv if a not in flags]
    if "--data-dir" not in argv:
        argv += ["--data-dir", DEFAULT_DATA_DIR]
    args = runner.parse_args(["list_endpoint", *argv])
    args.web = flags["--web"]
    data_dir = runner.isolate(args)
    print(f"benchmark data: {data_dir}", flush=True)
    size = args.size or DEFAULT_SIZE

    from django.core.management import call_command

    from benchmarks import complaints_generate

    call_command("migrate", verbosity=0, interactive=False)
    if flags["--keep-data"]:
        # Reuse the data even when a migration changed since (only safe when the tables read
        # here did not change): a full generation takes 8–15 minutes.
        complaints_generate.accept_existing(size)
    elif flags["--regenerate"] or not complaints_generate.existing_data(size):
        runner.fresh_database()
    started = time.perf_counter()
    metrics = complaints(size, args)
    metrics["total_seconds"] = round(time.perf_counter() - started, 2)
    shown = {k: v for k, v in metrics.items() if not (k.startswith("plan_") or k.endswith("_sql"))}
    runner.print_table("complaints", shown)
    for key, value in metrics.items():
        if key.startswith("plan_") or key.endswith("_sql"):
            print(f"\n{key}:\n  {value}")
    print(f"written: {runner.write_result(args.results_dir, 'complaints', size, metrics)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
