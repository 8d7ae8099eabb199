"""Data of the orders benchmark (issue 4): 20,000 customers, 1,000 products, 200,000 orders over
three years, 1,000,000 order lines, ~4 signed department reviews per submitted order, status
transitions, applied changes, shipments and 2,000,000 shipment lines with lot or serial numbers —
one lot of which went to 5,000 distinct customers.

Customers come from the customer benchmark's generator (``benchmarks.customers``). Everything
else is planned in memory and bulk loaded with raw SQL — ``COPY … FROM STDIN`` on PostgreSQL,
``executemany`` on SQLite — into tables whose secondary indexes (and, on PostgreSQL, foreign
keys) are dropped for the load and rebuilt afterwards, which is several times faster than
maintaining them row by row. No audit entries, signatures or numbering counters are written:
the data is for reading.

``ensure_data(size)`` skips the work when the database already holds a complete data set of that
size (a marker table written last), so repeated standalone runs reuse it.
"""

import hashlib
import json
import random
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from benchmarks import generate

MARKER_TABLE = "bench_orders_generated"
GENERATOR_VERSION = 2
REPORT_YEAR_OFFSET = 1  # the review-cycle report is measured on last year (a full year of data)
WIDE_LOT = "W2503-0001"  # the lot shipped to WIDE_LOT_CUSTOMERS distinct customers
WIDE_LOT_CUSTOMERS = 5_000
PRODUCTS = 1_000
REVIEWERS_PER_DEPARTMENT = 3
CHUNK = 5_000  # orders per load round

STATUS_BY_AGE = (  # (max age in days, [(status, weight)])
    (
        7,
        [
            ("draft", 25),
            ("under_review", 35),
            ("clarification", 10),
            ("awaiting_approval", 15),
            ("approved", 15),
        ],
    ),
    (
        45,
        [
            ("draft", 3),
            ("under_review", 5),
            ("clarification", 2),
            ("awaiting_approval", 5),
            ("approved", 30),
            ("partially_shipped", 30),
            ("shipped", 20),
            ("rejected", 2),
            ("cancelled", 3),
        ],
    ),
    (
        10**6,
        [
            ("approved", 2),
            ("partially_shipped", 3),
            ("shipped", 35),
            ("closed", 52),
            ("rejected", 3),
            ("cancelled", 5),
        ],
    ),
)
CLASSES = (("regular_in_stock", 30), ("regular_no_stock", 40), ("special", 30))
ROUTES = {  # class -> departments (the default matrix of orders/seed.py; optional ones sometimes)
    "regular_in_stock": ["sales", "warehouse"],
    "regular_no_stock": ["production", "purchasing", "sales"],
    "special": ["production", "purchasing", "sales", "rnd", "quality"],
}
OPTIONAL_SPECIAL = ["warehouse", "finance"]
SOURCES = (
    ("contract", 35),
    ("purchase_order", 30),
    ("tender", 8),
    ("technical_agreement", 5),
    ("written_note", 12),
    ("oral", 10),
)
SHIPPED = ("partially_shipped", "shipped", "closed")
APPROVED = ("approved", *SHIPPED)
PAST_REVIEW = ("awaiting_approval", "rejected", *APPROVED)
DEVICE_NAMES = (
    ("多参数监护仪", "07", "台", True),
    ("输液泵", "14", "台", True),
    ("注射泵", "14", "台", True),
    ("彩色多普勒超声诊断系统", "06", "台", True),
    ("全自动生化分析仪", "22", "台", True),
    ("一次性使用输液器", "14", "盒", False),
    ("一次性使用无菌注射器", "14", "盒", False),
    ("医用外科口罩", "14", "箱", False),
    ("心电电极片", "07", "包", False),
    ("生化试剂盒", "22", "盒", False),
    ("血氧探头", "07", "个", False),
    ("超声耦合剂", "06", "瓶", False),
)
CARRIERS = ("顺丰速运", "德邦物流", "中通快运", "京东物流", "自提")


# --- bulk loading -----------------------------------------------------------------------
def _constant(field, now):
    """The value a column not given per row gets: its default, "" or NULL, ``now`` for timestamps."""
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return now
    if field.has_default():
        value = field.get_default()
    elif field.null:
        return None
    else:
        value = ""
    if field.get_internal_type() == "JSONField":
        return json.dumps(value)
    if isinstance(value, str):
        return str(value)  # a TextChoices member → its plain value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


class Loader:
    """Raw bulk inserts of generated rows into a model's table (COPY or executemany)."""

    def __init__(self, connection):
        self.connection = connection
        self.postgres = connection.vendor == "postgresql"
        self.now = datetime.now(UTC).replace(tzinfo=None)  # naive UTC: both backends store UTC
        self.counts = {}

    def columns(self, model, given):
        """All concrete columns: ``given`` first (per row), then constants for the rest."""
        fields = [f for f in model._meta.concrete_fields if f.column not in given]
        rest = [f.column for f in fields]
        constants = tuple(_constant(f, self.now) for f in fields)
        return [*given, *rest], constants

    def load(self, model, given, rows):
        if not rows:
            return
        table = model._meta.db_table
        columns, constants = self.columns(model, given)
        with self.connection.cursor() as cursor:
            if self.postgres:
                names = ", ".join(f'"{c}"' for c in columns)
                with cursor.cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row + constants)
            else:
                names = ", ".join(f'"{c}"' for c in columns)
                marks = ", ".join("?" for _ in columns)
                cursor.cursor.executemany(
                    f'INSERT INTO "{table}" ({names}) VALUES ({marks})',  # noqa: S608 (our own names)
                    [row + constants for row in rows],
                )
        self.counts[table] = self.counts.get(table, 0) + len(rows)


class DroppedIndexes:
    """Drop secondary indexes (and PostgreSQL foreign keys) of ``tables`` for the load, rebuild after."""

    def __init__(self, connection, tables):
        self.connection = connection
        self.tables = tables
        self.saved = []  # SQL statements that restore what was dropped

    def __enter__(self):
        with self.connection.cursor() as cursor:
            if self.connection.vendor == "sqlite":
                # Foreign keys off for the load: with a deferred violation pending (a review that
                # names its not yet inserted successor), SQLite would search the child table on
                # every parent insert. ``foreign_key_check`` verifies everything afterwards.
                cursor.execute("PRAGMA foreign_keys = OFF")
            for table in self.tables:
                if self.connection.vendor == "postgresql":
                    cursor.execute(
                        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                        "WHERE conrelid = %s::regclass AND contype = 'f'",
                        [table],
                    )
                    for name, definition in cursor.fetchall():
                        cursor.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                        self.saved.append(f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
                    cursor.execute(
                        "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index x "
                        "JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
                        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid)",
                        [table],
                    )
                    for name, definition in cursor.fetchall():
                        cursor.execute(f'DROP INDEX "{name}"')
                        self.saved.insert(0, definition)
                else:
                    cursor.execute(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s "
                        "AND sql IS NOT NULL",
                        [table],
                    )
                    for name, definition in cursor.fetchall():
                        cursor.execute(f'DROP INDEX "{name}"')
                        self.saved.append(definition)
        return self

    def __exit__(self, *exc):
        if exc[0] is not None:
            return False  # the data set is incomplete anyway: no marker, regenerated next time
        started = time.perf_counter()
        with self.connection.cursor() as cursor:
            for statement in self.saved:
                cursor.execute(statement)
            if self.connection.vendor == "sqlite":
                cursor.execute("PRAGMA foreign_keys = ON")
                for table in self.tables:
                    cursor.execute(f'PRAGMA foreign_key_check("{table}")')
                    problems = cursor.fetchmany(5)
                    if problems:
                        raise RuntimeError(f"generated rows break foreign keys of {table}: {problems}")
        print(f"  rebuilt {len(self.saved)} indexes/constraints in {time.perf_counter() - started:.1f} s")
        return False


# --- marker -------------------------------------------------------------------------------
def existing_data(size):
    """The marker of a complete data set of ``size`` orders, or None."""
    from django.db import connection

    if MARKER_TABLE not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT info FROM {MARKER_TABLE} WHERE size = %s", [size])  # noqa: S608
        row = cursor.fetchone()
    info = json.loads(row[0]) if row else None
    return info if info and info.get("fingerprint") == fingerprint() else None


def fingerprint():
    """What the data depends on: every migration of every app and this generator's source. A
    change to any of them (a new column, an edited migration) makes the data stale."""
    from django.apps import apps

    digest = hashlib.sha256(str(GENERATOR_VERSION).encode())
    digest.update(Path(__file__).read_bytes())
    for config in sorted(apps.get_app_configs(), key=lambda c: c.label):
        for path in sorted((Path(config.path) / "migrations").glob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _write_marker(size, info):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (size integer PRIMARY KEY, info text)")
        cursor.execute(f"DELETE FROM {MARKER_TABLE}")  # noqa: S608
        cursor.execute(f"INSERT INTO {MARKER_TABLE} (size, info) VALUES (%s, %s)", [size, json.dumps(info)])  # noqa: S608


# --- people and products --------------------------------------------------------------------
def people():
    """Bench user (orders/customers/catalog view on everything), 30 sales people, reviewers."""
    from django.contrib.auth.hashers import make_password

    from benchmarks.customers import sales_people
    from qcare.accounts.models import Department, Role, User

    bench, sales = sales_people()
    generate.bench_user(permissions=("orders.view", "orders.export", "catalog.view", "customers.view"))
    password = make_password(generate.BENCH_PASSWORD)
    departments = {d.code: d for d in Department.objects.all()}
    roles = {r.code: r for r in Role.objects.all()}
    reviewers = {}
    for code in ("sales", "production", "purchasing", "quality", "rnd", "warehouse", "finance"):
        users = User.objects.bulk_create(
            [
                User(
                    username=f"rev_{code}{i}",
                    first_name=f"评审{i}",
                    last_name=departments[code].name[:2],
                    full_name=f"{departments[code].name[:2]}评审{i}",
                    password=password,
                    department=departments[code],
                )
                for i in range(REVIEWERS_PER_DEPARTMENT)
            ]
        )
        role = roles.get("sales_manager" if code == "sales" else f"reviewer_{code}")
        for user in users:
            if role:
                user.roles.add(role)
        reviewers[code] = [u.pk for u in User.objects.filter(username__startswith=f"rev_{code}")]
    gm = User.objects.create(username="bench_gm", first_name="总经理", full_name="总经理", password=password,
                             department=departments.get("gm_office"))  # fmt: skip
    if "gm" in roles:
        gm.roles.add(roles["gm"])
    return bench, sales, reviewers, gm


def products(loader, rng):
    """PRODUCTS products over the DEVICE_NAMES kinds; ids 1…PRODUCTS. Returns their facts."""
    from qcare.catalog.models import Product, ProductCategory

    categories = dict(ProductCategory.objects.values_list("code", "pk"))
    rows, facts = [], []
    for i in range(PRODUCTS):
        name, category, unit, serialised = DEVICE_NAMES[i % len(DEVICE_NAMES)]
        regulated = rng.random() < 0.85
        price = Decimal(rng.randint(5_000, 300_000) if serialised else rng.randint(20, 2_000))
        rows.append(
            (
                i + 1,
                f"BP-{i + 1:05d}",
                name,
                f"{name[:2]}-{rng.randint(100, 999)}{rng.choice('ABCDE')}",
                categories[category],
                rng.random() < 0.9,
                regulated,
                f"粤械注准2020{rng.randint(1000000, 9999999)}" if regulated else "",
                "深圳康禾医疗科技有限公司",
                "粤食药监械生产许20160088号",
                unit,
            )
        )
        facts.append((i + 1, serialised, price, unit, f"BP-{i + 1:05d}"))
    loader.load(
        Product,
        ("id", "code", "name", "model", "category_id", "is_standard", "is_regulated", "registration_number",
         "manufacturer", "manufacturer_licence", "unit"),
        rows,
    )  # fmt: skip
    return facts


# --- the plan -------------------------------------------------------------------------------
def _weighted(rng, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _status(rng, age):
    for max_age, table in STATUS_BY_AGE:
        if age < max_age:
            return _weighted(rng, table)
    raise AssertionError(age)


def _exact_counts(rng, n, total, low, high):
    """``n`` random counts in [low, high] summing to exactly ``total``."""
    counts = [rng.randint(low, high) for _ in range(n)]
    diff = total - sum(counts)
    step = 1 if diff > 0 else -1
    while diff:
        i = rng.randrange(n)
        if low <= counts[i] + step <= high:
            counts[i] += step
            diff -= step
    return counts


def plan_orders(rng, size, customers, today):
    """One tuple per order, by date: (date, customer pk, owner pk, status, class, line count)."""
    start = today - timedelta(days=3 * 365)
    span = (today - start).days
    days = sorted(start + timedelta(days=rng.randrange(span + 1)) for _ in range(size))
    big = customers[: len(customers) // 5]  # a fifth of the customers place half the orders
    lines = _exact_counts(rng, size, size * 5, 1, 9)
    plan = []
    for i, day in enumerate(days):
        pk, owner = rng.choice(big) if rng.random() < 0.5 else rng.choice(customers)
        plan.append([day, pk, owner, _status(rng, (today - day).days), _weighted(rng, CLASSES), lines[i]])
    return plan


def choose_wide_lot_orders(rng, plan, year):
    """One shipped order per customer (in ``year``) for WIDE_LOT_CUSTOMERS customers."""
    by_customer = {}
    for index, (day, customer, _owner, status, _cls, _n) in enumerate(plan):
        if day.year == year and status in ("shipped", "closed"):
            by_customer.setdefault(customer, []).append(index)
    chosen = rng.sample(sorted(by_customer), min(WIDE_LOT_CUSTOMERS, len(by_customer)))
    return {rng.choice(by_customer[c]) for c in chosen}


# --- generation -----------------------------------------------------------------------------
def _at(day, hour_from=8.5, hour_to=17.5, rng=None):
    """A naive-UTC moment on ``day`` inside Beijing office hours."""
    hours = rng.uniform(hour_from, hour_to) - 8  # Asia/Shanghai is UTC+8
    return datetime(day.year, day.month, day.day) + timedelta(hours=hours)


def _review_hours(rng):
    """Wall-clock hours from review start to signature: mostly the same or the next day."""
    return min(rng.lognormvariate(2.3, 1.0), 24 * 12)


class Generator:
    """Emits the rows of the plan in chunks through a Loader."""

    TABLES = ("order", "line", "review", "transition", "change", "ack", "notice", "shipment", "shipline")

    def __init__(self, rng, *, facts, reviewers, gm, shipper, today, wide_orders, departments, customer_of):
        self.rng, self.today = rng, today
        self.now = datetime.now(UTC).replace(tzinfo=None)
        self.departments = departments
        self.sales_department = departments["sales"]
        self.customer_of = customer_of
        self.wide_produced = date(today.year - REPORT_YEAR_OFFSET - 1, 12, 20)
        self.products = facts
        self.serialised = [f for f in facts if f[1]]
        self.by_lot = [f for f in facts if not f[1]]
        self.wide_product = self.by_lot[0]
        self.reviewers, self.gm, self.shipper = reviewers, gm, shipper
        self.wide_orders = wide_orders
        self.ids = {k: 0 for k in self.TABLES}
        self.month_seq, self.year_seq = {}, {}
        self.serial_seq = {}

    def _next(self, key):
        self.ids[key] += 1
        return self.ids[key]

    def _number(self, prefix, moment, monthly=False):
        key = (prefix, moment.year, moment.month if monthly else 0)
        self.month_seq[key] = self.month_seq.get(key, 0) + 1
        stem = f"{moment.year}{moment.month:02d}" if monthly else f"{moment.year}"
        return f"{prefix}-{stem}-{self.month_seq[key]:04d}"

    def _cap(self, moment):
        """Recent orders: nothing happens in the future."""
        return min(moment, self.now) if moment else moment

    def emit(self, chunk, first_id, ship_counts):
        """Rows of the orders ``chunk`` (plan entries) whose ids start at ``first_id``."""
        out = {k: [] for k in self.TABLES}
        for offset, (day, customer, owner, status, order_class, n_lines) in enumerate(chunk):
            order_id = first_id + offset
            self._order(out, order_id, day, customer, owner, status, order_class, n_lines, ship_counts)
        return out

    def _order(self, out, order_id, day, customer, owner, status, order_class, n_lines, ship_counts):
        rng = self.rng
        submitted = status != "draft" and not (status == "cancelled" and rng.random() < 0.3)
        delay = rng.randint(0, max(0, min(2, (self.today - day).days - 1)))
        submitted_at = self._cap(_at(day + timedelta(days=delay), rng=rng)) if submitted else None
        transitions = []
        if submitted:
            transitions.append(("draft", "under_review", owner, submitted_at))
        reviews_done, approved_at, review_number, received = None, None, None, []
        if submitted:
            review_number = self._number("HP", submitted_at)
            reviews_done, received = self._reviews(out, order_id, order_class, status, submitted_at)
        if status in PAST_REVIEW and reviews_done:
            transitions.append(("under_review", "awaiting_approval", owner, reviews_done))
        if status in APPROVED or status == "rejected":
            approved_at = self._cap(reviews_done + timedelta(hours=rng.uniform(0.5, 40)))
            transitions.append(("awaiting_approval", status if status == "rejected" else "approved", self.gm,
                                approved_at))  # fmt: skip
        if status == "cancelled":
            at = self._cap((submitted_at or _at(day, rng=rng)) + timedelta(days=rng.uniform(0.5, 10)))
            transitions.append(("under_review" if submitted else "draft", "cancelled", owner, at))
        if status in APPROVED and order_class != "regular_in_stock":
            self._notice(out, order_id, owner, approved_at)
            received = sorted({*received, "production"})
        if status in SHIPPED:
            received = sorted({*received, "warehouse"})
        changes = 0
        if status in APPROVED and rng.random() < 0.08:
            changes = 1
            self._change(out, order_id, owner, approved_at, received)
        total, last_ship = self._lines(out, order_id, day, n_lines, status, approved_at, ship_counts)
        if status in SHIPPED and last_ship:
            shipped_to = "shipped" if status in ("shipped", "closed") else "partially_shipped"
            transitions.append(("approved", shipped_to, self.shipper, self._cap(_at(last_ship, rng=rng))))
        closed_at = None
        if status == "closed":
            closed_at = self._cap(_at(last_ship + timedelta(days=rng.randint(5, 40)), rng=rng))
            transitions.append(("shipped", "closed", owner, closed_at))
        for from_status, to_status, actor, at in transitions:
            out["transition"].append(
                (self._next("transition"), order_id, from_status, to_status, actor, at, "")
            )
        out["order"].append(
            (
                order_id,
                self._number("SO", day, monthly=True),
                _weighted(rng, SOURCES),
                customer,
                f"PO{order_id:07d}",
                day,
                owner,
                self.sales_department,
                total,
                total,
                status,
                order_class if submitted else "",
                order_class if submitted else "",
                json.dumps([{"code": "amount", "params": {}}] if order_class == "special" else []),
                review_number,
                1 if submitted else 0,
                submitted_at,
                reviews_done if status in PAST_REVIEW else None,
                approved_at if status in APPROVED else None,
                self.gm if status in APPROVED else None,
                closed_at,
                changes,
                json.dumps({"quality": {"items": ["registration"], "text": ""}}),
            )
        )

    ORDER_COLUMNS = (
        "id", "number", "source", "customer_id", "customer_reference", "order_date", "owner_id", "department_id",
        "total_amount", "total_amount_cny", "status", "order_class", "computed_class", "class_reasons",
        "review_number", "review_round", "submitted_at", "reviews_completed_at", "approved_at", "approved_by_id",
        "closed_at", "change_count", "requirements",
    )  # fmt: skip

    def _reviews(self, out, order_id, order_class, status, started):
        """The department reviews of one submission; returns when the last was signed (or None)."""
        rng = self.rng
        departments = list(ROUTES[order_class])
        if order_class == "special":
            departments += [d for d in OPTIONAL_SPECIAL if rng.random() < 0.3]
        all_signed = status in PAST_REVIEW or status == "cancelled"
        last = None
        for code in departments:
            signed = all_signed or rng.random() < 0.4
            reviewer = rng.choice(self.reviewers[code])
            department = self.departments[code]
            if signed and rng.random() < 0.08:  # a first round superseded after a clarification
                first_signed = self._cap(started + timedelta(hours=_review_hours(rng)))
                first_id = self._next("review")
                second_start = self._cap(first_signed + timedelta(hours=rng.uniform(4, 72)))
                second_id = self._next("review")
                out["review"].append(
                    (first_id, order_id, None, department, 1, "superseded", "cannot_meet", "交期无法满足",
                     reviewer, first_signed, started, second_id)
                )  # fmt: skip
                review_start = second_start
                round_no, review_id = 2, second_id
            else:
                review_start, round_no, review_id = started, 1, self._next("review")
            signed_at = review_start + timedelta(hours=_review_hours(rng)) if signed else None
            if signed_at and signed_at >= self.now:
                signed_at = None if not all_signed else self.now
            opinion = ("conditional" if rng.random() < 0.15 else "can_meet") if signed_at else ""
            out["review"].append(
                (review_id, order_id, None, department, round_no, "signed" if signed_at else "pending", opinion,
                 "按期交付" if opinion == "conditional" else "", reviewer if signed_at else None, signed_at,
                 review_start, None)
            )  # fmt: skip
            if signed_at and (last is None or signed_at > last):
                last = signed_at
        return (last if all_signed else None), departments

    REVIEW_COLUMNS = (
        "id", "order_id", "change_request_id", "department_id", "round", "status", "opinion", "comments",
        "reviewer_id", "signed_at", "started_at", "superseded_by_id",
    )  # fmt: skip

    def _notice(self, out, order_id, owner, approved_at):
        """The production notice (SC-…) of an approved order that is not served from stock."""
        rng = self.rng
        issued = self._cap(approved_at + timedelta(hours=rng.uniform(0.5, 24)))
        acknowledged = self._cap(issued + timedelta(hours=rng.uniform(0.5, 16)))
        out["notice"].append(
            (self._next("notice"), self._number("SC", issued), order_id, self.departments["production"],
             "acknowledged", owner, issued, rng.choice(self.reviewers["production"]), acknowledged)
        )  # fmt: skip

    NOTICE_COLUMNS = (
        "id", "number", "order_id", "department_id", "status", "issued_by_id", "issued_at", "acknowledged_by_id",
        "acknowledged_at",
    )  # fmt: skip
    ACK_COLUMNS = (
        "id", "change_request_id", "order_id", "department_id", "due_at", "acknowledged_by_id", "acknowledged_at",
    )  # fmt: skip

    def _change(self, out, order_id, owner, approved_at, received):
        """An applied change of the delivery date, re-reviewed by production and acknowledged by
        every department that had received the order."""
        rng = self.rng
        change_id = self._next("change")
        submitted = self._cap(approved_at + timedelta(days=rng.uniform(1, 20)))
        signed = self._cap(submitted + timedelta(hours=_review_hours(rng)))
        applied = self._cap(signed + timedelta(hours=rng.uniform(1, 30)))
        out["change"].append(
            (change_id, self._number("BG", submitted), order_id, "applied", "客户要求调整交期", "{}",
             json.dumps([{"subject": "delivery_date", "field": "requested_date"}]), json.dumps(["delivery_date"]),
             1, True, "客户邮件确认", owner, submitted, self.gm, applied, applied)
        )  # fmt: skip
        out["review"].append(
            (self._next("review"), order_id, change_id, self.departments["production"], 1, "signed", "can_meet", "",
             rng.choice(self.reviewers["production"]), signed, submitted, None)
        )  # fmt: skip
        for code in received:
            acknowledged = self._cap(applied + timedelta(hours=rng.uniform(0.5, 30)))
            out["ack"].append(
                (self._next("ack"), change_id, order_id, self.departments[code], applied + timedelta(days=1),
                 rng.choice(self.reviewers[code]), acknowledged)
            )  # fmt: skip

    CHANGE_COLUMNS = (
        "id", "number", "order_id", "status", "reason", "proposed", "diff", "subjects", "base_version",
        "customer_agreed", "customer_agreement", "requested_by_id", "submitted_at", "decided_by_id", "decided_at",
        "applied_at",
    )  # fmt: skip

    def _lines(self, out, order_id, day, n_lines, status, approved_at, ship_counts):
        """Order lines, and for shipped orders the shipments with their lot/serial lines."""
        rng = self.rng
        shipped = status in SHIPPED
        first_ship = None
        if shipped:
            first_ship = min(approved_at.date() + timedelta(days=rng.randint(3, 45)), self.today)
        split = n_lines > 3 and rng.random() < 0.4  # the second half of the lines ships later
        shipments = {}  # shipment index (0 or 1) -> (id, date)
        total = Decimal(0)
        last_ship = None
        for line_no in range(1, n_lines + 1):
            line_id = self._next("line")
            wide = line_no == 1 and order_id in self.wide_orders
            fact = self.wide_product if wide else rng.choice(self.products)
            pid, serialised, price, unit, code = fact
            count = ship_counts.get(line_id, 0) if shipped else 0
            quantity = (
                Decimal(count or rng.randint(1, 5))
                if serialised
                else Decimal(rng.randint(1, 20) * max(count, 1))
            )
            amount = quantity * price
            total += amount
            requested = day + timedelta(days=rng.randint(14, 60))
            shipped_quantity = Decimal(0)
            if count:
                index = 1 if split and line_no > n_lines // 2 else 0
                if index not in shipments:
                    ship_day = first_ship if index == 0 else min(first_ship + timedelta(days=rng.randint(5, 30)),
                                                                 self.today)  # fmt: skip
                    shipments[index] = (self._next("shipment"), ship_day)
                shipment_id, ship_day = shipments[index]
                last_ship = max(last_ship or ship_day, ship_day)
                parts = self._split(quantity, count, serialised)
                for k, part in enumerate(parts):
                    lot, serial, produced, expiry = self._identity(fact, ship_day, wide and k == 0)
                    out["shipline"].append(
                        (self._next("shipline"), shipment_id, order_id, line_id, pid, self.customer_of[order_id],
                         ship_day, part, lot, serial, produced, expiry)
                    )  # fmt: skip
                    shipped_quantity += part
            out["line"].append(
                (line_id, order_id, line_no, pid, f"规格{code[-3:]}", quantity, unit, price, amount, requested,
                 rng.random() < 0.7, shipped_quantity, requested if status in APPROVED else None)
            )  # fmt: skip
        for shipment_id, ship_day in shipments.values():
            out["shipment"].append(
                (shipment_id, self._number("CH", ship_day, monthly=True), order_id, self.customer_of[order_id],
                 ship_day, f"DN{shipment_id:08d}", rng.choice(CARRIERS), f"SF{rng.randint(10**11, 10**12 - 1)}",
                 self.shipper)
            )  # fmt: skip
        return total, last_ship

    LINE_COLUMNS = (
        "id", "order_id", "line_no", "product_id", "specification", "quantity", "unit", "unit_price", "amount",
        "requested_date", "in_stock", "shipped_quantity", "planned_date",
    )  # fmt: skip
    SHIPMENT_COLUMNS = (
        "id", "number", "order_id", "customer_id", "shipped_on", "delivery_note_number", "carrier",
        "waybill_number", "shipped_by_id",
    )  # fmt: skip
    SHIPLINE_COLUMNS = (
        "id", "shipment_id", "order_id", "order_line_id", "product_id", "customer_id", "shipped_on", "quantity",
        "lot_number", "serial_number", "production_date", "expiry_date",
    )  # fmt: skip
    TRANSITION_COLUMNS = ("id", "order_id", "from_status", "to_status", "actor_id", "at", "reason")

    @staticmethod
    def _split(quantity, count, serialised):
        if not count:
            return []
        if serialised:
            return [Decimal(1)] * count
        share = quantity // count
        return [share] * (count - 1) + [quantity - share * (count - 1)]

    def _identity(self, fact, ship_day, wide):
        """(lot, serial, production date, expiry) of one shipped part."""
        pid, serialised, _price, _unit, code = fact
        if serialised:
            self.serial_seq[pid] = self.serial_seq.get(pid, 0) + 1
            produced = ship_day - timedelta(days=30)
            return "", f"SN{code[3:]}{self.serial_seq[pid]:07d}", produced, None
        if wide:
            return WIDE_LOT, "", self.wide_produced, self.wide_produced + timedelta(days=3 * 365)
        produced = ship_day - timedelta(days=self.rng.randint(10, 90))
        lot = f"L{code[3:]}-{produced:%y%m}-{self.rng.randint(1, 3):02d}"  # per product and month
        return lot, "", produced.replace(day=1), produced.replace(day=1) + timedelta(days=3 * 365)


def _ship_counts(rng, plan, total):
    """Shipment lines per shipping order line (line id -> count), summing to exactly ``total``.

    Line ids follow the plan (orders in order, lines by number). Shipped and closed orders ship
    every line; partially shipped ones the odd-numbered lines (the others stay open).
    """
    shipping, line_id = [], 0
    for _day, _customer, _owner, status, _cls, n_lines in plan:
        if status in SHIPPED:
            step = 2 if status == "partially_shipped" else 1
            shipping.extend(range(line_id + 1, line_id + n_lines + 1, step))
        line_id += n_lines
    base = total / len(shipping)
    low, high = max(1, int(base) - 2), int(base) + 3
    counts = _exact_counts(rng, len(shipping), total, low, high)
    return dict(zip(shipping, counts, strict=True))


def generate_all(size, *, seed=2026):
    """Generate the whole data set for ``size`` orders; returns facts for the report."""
    from django.db import connection, transaction
    from django.utils import timezone

    from benchmarks.customers import customers_and_contacts
    from qcare.accounts.models import Department
    from qcare.customers.models import Customer
    from qcare.orders import models as m

    rng = random.Random(seed)
    today = timezone.localdate()
    started = time.perf_counter()
    _bench, sales, reviewers, gm = people()
    customers_and_contacts(size // 10, sales, contacts_per_customer=1)
    customers = list(Customer.objects.order_by("pk").values_list("pk", "owner_id"))
    customers_seconds = time.perf_counter() - started

    loader = Loader(connection)
    facts = products(loader, rng)
    plan = plan_orders(rng, size, customers, today)
    report_year = today.year - REPORT_YEAR_OFFSET
    wide_orders = {index + 1 for index in choose_wide_lot_orders(rng, plan, report_year)}
    generator = Generator(
        rng,
        facts=facts,
        reviewers=reviewers,
        gm=gm.pk,
        shipper=reviewers["warehouse"][0],
        today=today,
        wide_orders=wide_orders,
        departments=dict(Department.objects.values_list("code", "pk")),
        customer_of={index + 1: entry[1] for index, entry in enumerate(plan)},
    )
    ship_counts = _ship_counts(rng, plan, size * 10)
    plan_seconds = time.perf_counter() - started - customers_seconds
    tables = [
        m.Order,
        m.OrderLine,
        m.OrderReview,
        m.OrderTransition,
        m.ChangeRequest,
        m.ChangeAcknowledgement,
        m.ProductionNotice,
        m.Shipment,
        m.ShipmentLine,
    ]
    load_started = time.perf_counter()
    with DroppedIndexes(connection, [t._meta.db_table for t in tables]):
        for first in range(0, size, CHUNK):
            out = generator.emit(plan[first : first + CHUNK], first + 1, ship_counts)
            with transaction.atomic():
                loader.load(m.Order, Generator.ORDER_COLUMNS, out["order"])
                loader.load(m.ChangeRequest, Generator.CHANGE_COLUMNS, out["change"])
                loader.load(m.ChangeAcknowledgement, Generator.ACK_COLUMNS, out["ack"])
                loader.load(m.ProductionNotice, Generator.NOTICE_COLUMNS, out["notice"])
                loader.load(m.OrderLine, Generator.LINE_COLUMNS, out["line"])
                loader.load(m.OrderReview, Generator.REVIEW_COLUMNS, out["review"])
                loader.load(m.OrderTransition, Generator.TRANSITION_COLUMNS, out["transition"])
                loader.load(m.Shipment, Generator.SHIPMENT_COLUMNS, out["shipment"])
                loader.load(m.ShipmentLine, Generator.SHIPLINE_COLUMNS, out["shipline"])
            done = first + len(out["order"])
            if done % (CHUNK * 10) == 0 or done == size:
                generate.progress("orders (+lines, reviews, shipments)", done, size, load_started)
    load_seconds = time.perf_counter() - load_started
    _after_load(connection, tables)
    info = {
        "generator_version": GENERATOR_VERSION,
        "fingerprint": fingerprint(),
        "seed": seed,
        "today": today.isoformat(),
        "report_year": report_year,
        "rows": dict(loader.counts),
        "customers": len(customers),
        "wide_lot": WIDE_LOT,
        "wide_lot_customers": len(wide_orders),
        "seconds": {
            "customers_and_people": round(customers_seconds, 1),
            "plan": round(plan_seconds, 1),
            "load_and_index": round(load_seconds, 1),
            "total": round(time.perf_counter() - started, 1),
        },
    }
    _write_marker(size, info)
    return info


def _after_load(connection, tables):
    """Identity sequences past the explicit ids and VACUUM ANALYZE (PostgreSQL: the visibility map
    that index-only scans need, as autovacuum would leave a live system); ANALYZE on SQLite."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for model in tables:
                table = model._meta.db_table
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f'(SELECT COALESCE(MAX(id), 1) FROM "{table}"))'
                )
            cursor.execute("VACUUM ANALYZE")  # autocommit: not inside a transaction
        else:
            cursor.execute("ANALYZE")
    print(f"  statistics (and vacuum) in {time.perf_counter() - started:.1f} s", flush=True)


def ensure_data(size):
    """The data set of ``size`` orders: reused when the marker says it is complete, else generated."""
    info = existing_data(size)
    if info:
        print(
            f"  reusing the data generated on {info['today']} ({info['seconds']['total']} s then)", flush=True
        )
        info["reused"] = True
        return info
    info = generate_all(size)
    info["reused"] = False
    return info
