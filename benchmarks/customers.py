"""The customer-file benchmark (issue 3): 20,000 customers, 100,000 contacts, 200,000
communication entries, then

1. the HTML list page ``/customers/?q=<2-char term>&type=<distributor>&origin=domestic``,
2. the API list ``/api/customers/?search=…&type=distributor&is_foreign=false``,
   both against the raw SQL of the same page and a minimal JSON view of the same rows
   (budgets: API ≥ 60 %, HTML ≥ 40 % of the minimal view's req/s);
3. the search by a 2-character Chinese term against its raw SQL (budget ≤ 3×), with the
   engine's alternatives and query plans;
4. the 360 page of the customer with the longest history.

Run on its own (``python -m benchmarks.customers [--size N] [--database-url …]``) or, once
registered, through ``python -m benchmarks customers``. The web part runs gunicorn with
``benchmarks.customers_settings`` (the production settings plus the minimal view and a
bearer-token login for the HTML pages, which the load generator cannot log in to).
"""

import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

from benchmarks import generate

DEFAULT_SIZE = 20_000  # customers; contacts = 5×, communication entries = 10×
PAGE_SIZE = 50
SEARCH_TERM = "康泰"  # two characters: below the trigram length, the hard case
LONG_TERM = "康泰医疗器械"
LONGEST_HISTORY = 2_000  # entries of the one customer the 360 page is measured on
SALES_PEOPLE = 30
RAW_REPEAT = 30

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧阳"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍建红文辉鹏斌宇浩凯健俊帆婷雪琳晶颖玲慧欣宁"
CITIES = [
    "北京",
    "上海",
    "广州",
    "深圳",
    "天津",
    "重庆",
    "杭州",
    "南京",
    "苏州",
    "无锡",
    "宁波",
    "温州",
    "合肥",
    "福州",
    "厦门",
    "南昌",
    "济南",
    "青岛",
    "郑州",
    "武汉",
    "长沙",
    "成都",
    "西安",
    "沈阳",
    "大连",
    "长春",
    "哈尔滨",
    "石家庄",
    "太原",
    "南宁",
    "昆明",
    "贵阳",
    "兰州",
    "银川",
    "西宁",
    "乌鲁木齐",
    "呼和浩特",
    "海口",
    "拉萨",
    "常州",
    "徐州",
    "烟台",
    "潍坊",
    "佛山",
    "东莞",
    "珠海",
    "泉州",
    "绍兴",
    "嘉兴",
    "台州",
]
PROVINCES = [
    "北京",
    "上海",
    "广东",
    "天津",
    "重庆",
    "浙江",
    "江苏",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "四川",
    "陕西",
    "辽宁",
    "吉林",
]
TRADE_WORDS = [
    "康泰",
    "华康",
    "瑞康",
    "恒生",
    "安达",
    "泰康",
    "宏远",
    "众和",
    "天成",
    "博达",
    "欣荣",
    "永信",
    "汇德",
    "嘉禾",
    "金诺",
    "盛世",
    "国药",
    "鼎盛",
    "利民",
    "安泰",
    "九州",
    "华润",
    "新特",
    "仁和",
    "同济",
    "佳禾",
    "德信",
    "百川",
    "康健",
    "优卫",
]
HOSPITAL_PATTERNS = ("{city}市第{n}人民医院", "{city}市中医医院", "{city}{word}医院", "{city}市妇幼保健院")
COMPANY_PATTERNS = (
    "{city}{word}医疗器械有限公司",
    "{city}{word}医药有限公司",
    "{word}医疗科技（{city}）有限公司",
)
FOREIGN_NAMES = ("Medical GmbH", "Healthcare Ltd", "Medical Supplies Inc", "Distribution S.A.", "Medtech LLC")
TYPES = (("distributor", 40), ("hospital", 35), ("agent", 10), ("trading", 10), ("oem", 5))
_ROW_FIELDS = ("id", "code", "name", "short_name", "customer_type", "region", "owner", "is_foreign")
COMM_KINDS = ("inquiry", "call", "email", "letter", "fax", "plant_visit", "sales_visit")


# --- data ------------------------------------------------------------------------------------
def _person(rng):
    given = "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2, 2))))
    return rng.choice(SURNAMES) + given


def _company_name(rng, type_code, foreign):
    city, word = rng.choice(CITIES), rng.choice(TRADE_WORDS)
    if foreign:
        return f"{rng.choice(('Berlin', 'Milano', 'Osaka', 'Seoul', 'Dubai'))} {word} {rng.choice(FOREIGN_NAMES)}"
    pattern = rng.choice(HOSPITAL_PATTERNS if type_code == "hospital" else COMPANY_PATTERNS)
    return pattern.format(city=city, word=word, n=rng.randint(1, 9))


def sales_people(count=SALES_PEOPLE):
    """The bench user (customers.* on everything) and ``count`` sales owners in 销售部."""
    from django.contrib.auth.hashers import make_password

    from qcare.accounts.models import Department, User
    from qcare.accounts.seed import seed_org

    seed_org()
    bench = generate.bench_user(permissions=("customers.*", "sample.view"))
    sales = Department.objects.get(code="sales")
    password = make_password(generate.BENCH_PASSWORD)
    User.objects.bulk_create(
        [
            User(username=f"sales{i:03d}", first_name=f"业务员{i}", password=password, department=sales)
            for i in range(count)
        ]
    )
    return bench, list(User.objects.filter(username__startswith="sales").order_by("pk"))


def _contacts_for(rng, customer, count):
    from qcare.customers.models import Contact

    area = rng.choice(("010", "021", "020", "0755", "0571", "025", "028", "027"))
    rows = []
    for index in range(count):
        rows.append(
            Contact(
                customer=customer,
                name=_person(rng),
                title=rng.choice(("采购经理", "设备科科长", "总经理", "质量负责人", "库管")),
                phone=f"{area}-{rng.randint(10_000_000, 99_999_999)}",
                mobile=f"1{rng.choice('3578')}{rng.randint(0, 9)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
                email=f"c{customer.code.lower()}.{index}@example.cn",
                is_primary=index == 0,
            )
        )
    return rows


def customers_and_contacts(size, owners, *, contacts_per_customer=5, batch=2000, seed=7):
    """``size`` customers with ``contacts_per_customer`` contacts each and their search text."""
    from django.db import transaction

    from qcare.customers.models import Classification, Contact, Customer
    from qcare.customers.search import build_search_text

    rng = random.Random(seed)
    types = {c.code: c for c in Classification.objects.filter(kind="type")}
    weighted = [code for code, weight in TYPES for _ in range(weight)]
    started, made = time.perf_counter(), 0
    while made < size:
        rows, contact_rows = [], []
        for i in range(made, min(made + batch, size)):
            type_code, owner = rng.choice(weighted), owners[i % len(owners)]
            foreign = rng.random() < 0.05
            customer = Customer(
                code=f"C{i + 1:05d}",
                name=_company_name(rng, type_code, foreign),
                customer_type=types[type_code],
                is_foreign=foreign,
                country="DE" if foreign else "CN",
                region="" if foreign else f"{rng.choice(PROVINCES)}",
                tax_id=f"91{rng.randint(10**15, 10**16 - 1)}",
                owner=owner,
                department_id=owner.department_id,
            )
            customer.short_name = customer.name[:6]
            contacts = _contacts_for(rng, customer, contacts_per_customer)
            customer.search_text = build_search_text(customer, contacts=contacts)
            rows.append(customer)
            contact_rows.append(contacts)
        with transaction.atomic():
            Customer.objects.bulk_create(rows)  # ids come back (RETURNING) on both engines
            for customer, contacts in zip(rows, contact_rows, strict=True):
                for contact in contacts:
                    contact.customer_id = customer.pk
            Contact.objects.bulk_create([c for group in contact_rows for c in group], batch_size=5000)
        made += len(rows)
        generate.progress("customers (+contacts)", made, size, started)
    return made


def communications(count, *, longest=LONGEST_HISTORY, batch=5000, seed=11):
    """``count`` log entries: ``longest`` of them on customer C00001, the rest spread at random."""
    from django.db import transaction
    from django.utils import timezone

    from qcare.customers.models import Communication, Customer

    rng = random.Random(seed)
    customers = list(Customer.objects.values_list("pk", "owner_id").order_by("pk"))
    now = timezone.now()
    started, made = time.perf_counter(), 0
    while made < count:
        rows = []
        for i in range(made, min(made + batch, count)):
            pk, owner = customers[0] if i < longest else rng.choice(customers)
            kind = rng.choice(COMM_KINDS)
            rows.append(
                Communication(
                    customer_id=pk,
                    kind=kind,
                    occurred_at=now - timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60)),
                    subject=f"{rng.choice(('询价', '来电', '产品咨询', '投诉跟进', '年度回访', '访厂'))} #{i}",
                    summary="客户询问产品注册证、交期与售后安排。",
                    recorded_by_id=owner,
                )
            )
        with transaction.atomic():
            Communication.objects.bulk_create(rows)
        made += len(rows)
        if made % (batch * 10) == 0 or made == count:
            generate.progress("communications", made, count, started)
    return made


# --- SQL-level measurements ----------------------------------------------------------------
def _ms(callable_, repeat=RAW_REPEAT):
    callable_()  # warm: statement cache, pages in memory
    started = time.perf_counter()
    for _ in range(repeat):
        callable_()
    return (time.perf_counter() - started) * 1000 / repeat


def _raw(sql, params):
    from django.db import connection

    def run():
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()

    return run


def _plan(sql, params):
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
            return " / ".join(str(row[-1]) for row in cursor.fetchall())
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}", params)
        return " / ".join(row[0].strip() for row in cursor.fetchall())


def search_metrics(user):
    """Search by the 2-character term (and a long one): ORM vs raw SQL, alternatives, plans."""
    from django.db import connection

    from qcare.customers.models import Customer
    from qcare.customers.search import search_customers

    metrics = {}
    for label, term in (("short", SEARCH_TERM), ("long", LONG_TERM)):
        qs = search_customers(Customer.objects.restrict(user, "view"), term)
        page = qs[:PAGE_SIZE]
        sql, params = page.query.sql_with_params()
        count_sql, count_params = qs.values("pk").query.sql_with_params()
        orm_ms = _ms(lambda qs=qs: (qs.count(), list(qs[:PAGE_SIZE])))
        # The same with .values() rows (as the API reads them): no model instances to build.
        values_ms = _ms(lambda qs=qs: (qs.count(), list(qs.values(*_ROW_FIELDS)[:PAGE_SIZE])))
        values_sql, values_params = qs.values(*_ROW_FIELDS)[:PAGE_SIZE].query.sql_with_params()
        raw_ms = _ms(_raw(sql, params)) + _ms(_raw(f"SELECT COUNT(*) FROM ({count_sql}) c", count_params))  # noqa: S608
        metrics[f"search_{label}_term"] = term
        metrics[f"search_{label}_matches"] = qs.count()
        metrics[f"search_{label}_orm_ms"] = round(orm_ms, 3)
        metrics[f"search_{label}_raw_sql_ms"] = round(raw_ms, 3)
        metrics[f"ratio_search_{label}_to_raw_sql"] = round(orm_ms / raw_ms, 2) if raw_ms else None
        values_raw_ms = _ms(_raw(values_sql, values_params)) + (raw_ms - _ms(_raw(sql, params)))
        metrics[f"search_{label}_orm_values_ms"] = round(values_ms, 3)
        metrics[f"ratio_search_{label}_values_to_raw_sql"] = round(values_ms / values_raw_ms, 2)
        metrics[f"plan_search_{label}_page"] = _plan(sql, params)
    metrics["budget_search_short_to_raw_sql"] = 3.0
    metrics["search_within_budget"] = metrics["ratio_search_short_to_raw_sql"] <= 3.0
    pattern = f"%{SEARCH_TERM}%"
    metrics["alt_base_table_like_ms"] = round(
        _ms(_raw("SELECT id FROM customers_customer WHERE search_text LIKE %s", [pattern])), 3
    )
    metrics["alt_base_table_like_rows"] = len(
        _raw("SELECT id FROM customers_customer WHERE search_text LIKE %s", [pattern])()
    )
    if connection.vendor == "sqlite":
        metrics["alt_base_table_instr_ms"] = round(
            _ms(_raw("SELECT id FROM customers_customer WHERE instr(search_text, %s) > 0", [SEARCH_TERM])), 3
        )
        # FTS5 trigram accelerates LIKE only for ≥ 3 characters; the row count shows whether a
        # shorter pattern is answered correctly at all.
        fts_like = _raw("SELECT rowid FROM customers_customer_fts WHERE search_text LIKE %s", [pattern])
        metrics["alt_fts_table_like_ms"] = round(_ms(fts_like), 3)
        metrics["alt_fts_table_like_rows"] = len(fts_like())
    else:
        metrics["alt_base_table_strpos_ms"] = round(
            _ms(_raw("SELECT id FROM customers_customer WHERE strpos(search_text, %s) > 0", [SEARCH_TERM])), 3
        )
    return metrics


# --- web measurements ----------------------------------------------------------------------
def _status(port, path, token):
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


def _start_server(port):
    from benchmarks.cases import _start_gunicorn

    root = str(Path(__file__).resolve().parents[1])
    saved = {k: os.environ.get(k) for k in ("DJANGO_SETTINGS_MODULE", "PYTHONPATH")}
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.customers_settings"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [root, saved["PYTHONPATH"]]))
    try:
        return _start_gunicorn(port)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _raw_page_ms(user, distributor):
    """Raw SQL of the list page's two queries (count + rows) with the same search and filters."""
    from benchmarks.customers_urls import minimal_queryset

    qs = minimal_queryset(user, distributor)
    count_sql, count_params = qs.values("pk").query.sql_with_params()
    sql, params = qs[:PAGE_SIZE].query.sql_with_params()
    return _ms(_raw(f"SELECT COUNT(*) FROM ({count_sql}) c", count_params)) + _ms(_raw(sql, params))  # noqa: S608


def web_metrics(user, args):
    """Load test: minimal view, API list, HTML list, 360 page (the pages that exist)."""
    from django.core.management import call_command
    from django.db import connection
    from django.urls import NoReverseMatch, reverse

    from benchmarks.cases import WEB_WORKERS, _free_port, _interleaved_load
    from qcare.accounts.tokens import create_token
    from qcare.customers.models import Classification, Customer

    _, token = create_token(user, "benchmark")
    term = quote(SEARCH_TERM)  # the load generator sends the path as ASCII
    distributor = Classification.objects.get(kind="type", code="distributor")
    urls = {
        "minimal": f"/_bench/customers-minimal/?search={term}",
        "api_list": f"/api/customers/?search={term}&type=distributor&is_foreign=false",
        "html_list": f"/customers/?q={term}&type={distributor.pk}&origin=domestic",
    }
    try:
        longest = Customer.objects.get(code="C00001").pk  # the customer with LONGEST_HISTORY entries
        urls["customer_360"] = reverse("customers:detail", args=[longest])
    except NoReverseMatch:
        pass
    raw_ms = _raw_page_ms(user, distributor)
    call_command("collectstatic", interactive=False, verbosity=0)  # the pages need the manifest
    connection.close()
    port = _free_port()
    server = _start_server(port)
    metrics = {"list_raw_sql_ms": round(raw_ms, 3), "connections": args.connections}
    try:
        for label, path in list(urls.items()):
            status, body = _status(port, path, token)
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
    minimal = measured.get("minimal", {}).get("requests_per_s")
    for label, budget in (("api_list", 0.60), ("html_list", 0.40)):
        rate = measured.get(label, {}).get("requests_per_s")
        if rate and minimal:
            metrics[f"ratio_{label}_to_minimal"] = round(rate / minimal, 3)
            metrics[f"budget_{label}_to_minimal"] = budget
            metrics[f"{label}_within_budget"] = rate / minimal >= budget
            metrics[f"ratio_{label}_to_raw_sql"] = round(WEB_WORKERS * 1000 / rate / raw_ms, 2)
    if "customer_360" in measured:
        metrics["customer_360_ms_per_request"] = round(
            WEB_WORKERS * 1000 / measured["customer_360"]["requests_per_s"], 1
        )
    return metrics


def customers(size, args):
    """The whole benchmark (the runner's entry point): generate, then measure SQL and web."""
    from django.db import connection

    user, owners = sales_people()
    started = time.perf_counter()
    customers_and_contacts(size, owners)
    communications(size * 10)
    generate_seconds = time.perf_counter() - started
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # fresh statistics, as autovacuum would give a live system
    metrics = {
        "customers": size,
        "contacts": size * 5,
        "communications": size * 10,
        "longest_history": LONGEST_HISTORY,
        "generate_seconds": round(generate_seconds, 1),
    }
    metrics |= search_metrics(user)
    if not getattr(args, "skip_web", False):
        metrics |= web_metrics(user, args)
    return metrics


def main(argv=None):
    """``python -m benchmarks.customers``: the runner's isolation, this benchmark only."""
    from benchmarks import runner

    argv = sys.argv[1:] if argv is None else argv
    skip_web = "--skip-web" in argv
    args = runner.parse_args(["list_endpoint", *[a for a in argv if a != "--skip-web"]])
    args.skip_web = skip_web
    data_dir = runner.isolate(args)
    print(f"benchmark data: {data_dir}", flush=True)
    runner.fresh_database()
    size = args.size or DEFAULT_SIZE
    started = time.perf_counter()
    metrics = customers(size, args)
    metrics["total_seconds"] = round(time.perf_counter() - started, 2)
    runner.print_table("customers", metrics)
    print(f"written: {runner.write_result(args.results_dir, 'customers', size, metrics)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
