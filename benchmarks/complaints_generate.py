"""Data of the complaints benchmark (issue 5): 1,000,000 complaints over five years on top of the
orders benchmark's data (20,000 customers, 1,000 products, 200,000 orders, 2,000,000 shipment
lines, lot ``W2503-0001`` shipped to 5,000 customers), with their 3,000,000 deadline rows and
~1,000,000 responsibility shares.

Statuses depend on age like a live register: the last days mostly registered / triaged /
under investigation, the last weeks through responsibility, approval and reply, older cases
closed (87 %), not substantiated (9 %) or rejected with a follow-up (3 %), and a few old
cases still open (stuck, overdue). Deadlines follow the default policies (first answer 7 days,
investigation 3 days, close 13 / 17 days for foreign customers; reminder 1 day before,
escalations 1 and 2 days after) in the steady state the reminder job leaves behind: every
stage whose time has passed before the step was met is marked as sent.

Descriptions are generated Chinese complaint texts (symptoms by product kind, the ward,
findings on returned samples, the customer's demand), 40–120 characters; the search text is
built by ``complaints.search.build_search_text`` so the index sees what production stores.

Bulk loaded like the orders data (``orders_generate.Loader`` / ``DroppedIndexes``: COPY on
PostgreSQL, executemany on SQLite, secondary indexes dropped and rebuilt). On SQLite the FTS
triggers are dropped for the load and the FTS index is rebuilt once afterwards; on PostgreSQL
the pg_trgm GIN index is one of the rebuilt indexes. Not generated: transitions, findings,
replies, signatures, audit entries, numbering counters (the measured paths do not read them).

``ensure_data(size)`` reuses a complete data set (marker table written last, fingerprint of
every migration and of this file and the orders generator).
"""

import hashlib
import json
import random
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

from benchmarks import generate, orders_generate

MARKER_TABLE = "bench_complaints_generated"
GENERATOR_VERSION = 1
ORDERS_SIZE = 200_000  # the orders data set under the complaints (smaller for small smoke runs)
YEARS = 5
CHUNK = 20_000
QUALITY_ENGINEERS = 12
LOCAL = timedelta(hours=8)  # Asia/Shanghai, no DST
SHORT_TERM = "漏液"  # a 2-character Chinese search word (~2 % of the complaints)
LONG_TERM = "开机黑屏"  # a 4-character one (trigram index)

STATUS_BY_AGE = (  # (max age in days, [(status, weight)])
    (3, [("registered", 40), ("triaged", 35), ("investigation", 25)]),
    (
        14,
        [
            ("triaged", 4),
            ("investigation", 28),
            ("responsibility", 18),
            ("awaiting_approval", 14),
            ("approved", 10),
            ("replied", 12),
            ("closed", 11),
            ("not_substantiated", 3),
        ],
    ),
    (
        45,
        [
            ("investigation", 3),
            ("responsibility", 3),
            ("awaiting_approval", 2),
            ("approved", 2),
            ("replied", 8),
            ("closed", 72),
            ("not_substantiated", 7),
            ("rejected", 3),
        ],
    ),
    (
        10**6,
        [
            ("investigation", 0.1),
            ("responsibility", 0.1),
            ("replied", 0.1),
            ("closed", 86.7),
            ("not_substantiated", 9),
            ("rejected", 4),
        ],
    ),
)
ORDER = (
    "registered",
    "triaged",
    "investigation",
    "responsibility",
    "awaiting_approval",
    "approved",
    "replied",
    "closed",
)
FINAL = ("closed", "not_substantiated", "rejected")
CHANNELS = (("phone", 45), ("email", 20), ("letter", 5), ("fax", 3), ("visit", 12), ("portal", 5),
            ("dealer_report", 10))  # fmt: skip
SEVERITIES = (("minor", 68), ("serious", 27), ("major", 5))
CATEGORIES = (
    ("quality", 70),
    ("delivery", 10),
    ("documents", 5),
    ("service", 8),
    ("billing", 3),
    ("other", 4),
)
CAUSES = (("production", 30), ("material", 22), ("inspection", 8), ("packaging", 10), ("labelling", 5),
          ("design", 6), ("human_error", 7), ("customer_use", 8), ("service", 2), ("other", 2))  # fmt: skip
DISPOSITIONS = (("replace", 35), ("return", 15), ("rework", 10), ("allowance", 20), ("compensation", 5),
                ("no_fault", 15))  # fmt: skip
DEMANDS = ("return", "exchange", "allowance", "compensation", "repair", "explanation")
RESPONSIBLE_DEPTS = (("production", 40), ("purchasing", 20), ("quality", 15), ("rnd", 10), ("warehouse", 10),
                     ("sales", 5))  # fmt: skip
SUPPLIERS = (
    "东莞精工塑胶制品有限公司",
    "苏州恒瑞电子科技有限公司",
    "宁波华美包装材料有限公司",
    "深圳宏达线缆有限公司",
)

# --- Chinese complaint texts -----------------------------------------------------------------
SYMPTOMS = {
    "多参数监护仪": [
        "开机黑屏",
        "血氧读数不稳定",
        "心电波形干扰严重",
        "无创血压测量值偏高",
        "报警误报频繁",
        "电池续航不足两小时",
        "屏幕触摸失灵",
        "体温探头接触不良",
    ],
    "输液泵": ["输液速度不准", "堵塞报警频繁", "泵门锁扣断裂", "开机黑屏", "气泡报警误报", "电池无法充电"],
    "注射泵": ["推注速度偏慢", "注射器识别错误", "残留报警失灵", "开机黑屏", "按键失灵"],
    "彩色多普勒超声诊断系统": ["图像噪点明显", "探头发热", "开机黑屏", "系统死机重启", "多普勒信号弱"],
    "全自动生化分析仪": ["试剂针堵塞", "检测结果偏高", "比色杯清洗不净", "样本针撞针报警", "开机自检失败"],
    "一次性使用输液器": ["接头处漏液", "过滤膜脱落", "流量调节器失灵", "导管有异物", "包装破损"],
    "一次性使用无菌注射器": ["针头有毛刺", "活塞推动阻力大", "刻度印刷模糊", "漏液", "包装密封不良"],
    "医用外科口罩": ["耳带断裂", "鼻夹脱落", "外包装标签模糊", "异味明显", "尺寸偏小"],
    "心电电极片": ["粘性不足", "导电膏干涸", "扣子脱落", "包装破损", "皮肤过敏反应"],
    "生化试剂盒": ["试剂瓶漏液", "质控结果超范围", "有效期标识错误", "冷链温度记录超标", "瓶盖破裂"],
    "血氧探头": ["血氧读数不稳定", "线缆断裂", "指夹弹簧松动", "接口针脚弯曲", "开机无法识别"],
    "超声耦合剂": ["瓶体漏液", "粘稠度不均", "有异物", "外包装破损", "气味异常"],
}
WARDS = (
    "ICU",
    "急诊科",
    "手术室",
    "心内科",
    "儿科",
    "检验科",
    "超声科",
    "门诊输液室",
    "消毒供应中心",
    "仓库验收时",
)
OPENINGS = (
    "客户来电反映",
    "客户来函称",
    "经销商反馈",
    "医院设备科投诉",
    "客户邮件反映",
    "现场服务工程师报告",
)
FINDINGS = ("已拍照留存", "样品已寄回公司", "客户要求尽快答复", "同批次其他产品暂未发现问题", "客户已暂停使用该批次",
            "现场复现问题", "未能现场复现", "已安排工程师上门")  # fmt: skip
DEMAND_TEXT = (
    "客户要求换货",
    "客户要求退货",
    "客户要求折让",
    "客户要求赔偿损失",
    "客户要求书面说明原因",
    "客户要求上门维修",
)
ROOT_CAUSES = ("焊接工艺参数偏差导致虚焊", "来料不良未被进货检验发现", "包装跌落试验不足", "操作员未按作业指导书操作",
               "软件版本缺陷", "客户使用方法不当", "运输途中受潮")  # fmt: skip


def _weighted(rng, pairs):
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def _status(rng, age_days):
    for max_age, table in STATUS_BY_AGE:
        if age_days < max_age:
            return _weighted(rng, table)
    raise AssertionError(age_days)


def describe(rng, kind, quantity):
    """A Chinese complaint description for a product of ``kind`` (40–120 characters)."""
    symptom = rng.choice(SYMPTOMS[kind])
    extra = rng.choice(SYMPTOMS[kind]) if rng.random() < 0.25 else ""
    text = f"{rng.choice(OPENINGS)}，{rng.choice(WARDS)}使用的{quantity}件{kind}{symptom}"
    if extra and extra != symptom:
        text += f"，部分还出现{extra}"
    text += f"。{rng.choice(FINDINGS)}，{rng.choice(DEMAND_TEXT)}。"
    return text


# --- marker ----------------------------------------------------------------------------------
def fingerprint():
    """Every migration of every app (through the orders fingerprint) and GENERATOR_VERSION — not
    this file's source, so that editing the measurements' helpers keeps the 1M rows (bump the
    version when the data itself changes)."""
    from django.apps import apps

    digest = hashlib.sha256(str(GENERATOR_VERSION).encode())
    for config in sorted(apps.get_app_configs(), key=lambda c: c.label):
        for path in sorted((Path(config.path) / "migrations").glob("*.py")):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def existing_data(size):
    from django.db import connection

    if MARKER_TABLE not in connection.introspection.table_names():
        return None
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT info FROM {MARKER_TABLE} WHERE size = %s", [size])
        row = cursor.fetchone()
    info = json.loads(row[0]) if row else None
    return info if info and info.get("fingerprint") == fingerprint() else None


def accept_existing(size):
    """Re-stamp an existing data set of ``size`` with the current fingerprint (``--keep-data``)."""
    from django.db import connection

    if MARKER_TABLE not in connection.introspection.table_names():
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT info FROM {MARKER_TABLE} WHERE size = %s", [size])
        row = cursor.fetchone()
    if not row:
        return False
    info = json.loads(row[0])
    info["fingerprint"] = fingerprint()
    _write_marker(size, info)
    return True


def _write_marker(size, info):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TABLE IF NOT EXISTS {MARKER_TABLE} (size integer PRIMARY KEY, info text)")
        cursor.execute(f"DELETE FROM {MARKER_TABLE}")
        cursor.execute(f"INSERT INTO {MARKER_TABLE} (size, info) VALUES (%s, %s)", [size, json.dumps(info)])


# --- people ----------------------------------------------------------------------------------
BENCH_PERMISSIONS = (
    "complaints.view",
    "complaints.report",
    "complaints.export",
    "complaints.triage",
    "notices.view",
    "notices.add",
    "notices.track",
)


def people():
    """The bench user gets complaints.* reading rights (scope all); quality engineers own cases."""
    from django.contrib.auth.hashers import make_password

    from qcare.accounts.models import Department, Role, User

    generate.bench_user(permissions=BENCH_PERMISSIONS)
    quality = Department.objects.get(code="quality")
    password = make_password(generate.BENCH_PASSWORD)
    users = User.objects.bulk_create(
        [
            User(username=f"qe{i:02d}", first_name=f"品质工程师{i}", full_name=f"品质{i}", password=password,
                 department=quality)
            for i in range(QUALITY_ENGINEERS)
        ]
    )  # fmt: skip
    role = Role.objects.filter(code="quality_engineer").first()
    if role:
        for user in users:
            user.roles.add(role)
    # The escalation chain's recipients: the quality manager and a management representative.
    Department.objects.filter(pk=quality.pk).update(manager=users[0])
    rep = User.objects.create(username="bench_mr", first_name="管理者代表", full_name="管理者代表",
                              password=password, department=quality)  # fmt: skip
    rep_role = Role.objects.filter(code="management_rep").first()
    if rep_role:
        rep.roles.add(rep_role)
    return [u.pk for u in User.objects.filter(username__startswith="qe").order_by("pk")]


# --- generation ------------------------------------------------------------------------------
def _local_period(moment):
    return (moment + LOCAL).strftime("%Y-%m")


def _local_date(moment):
    return (moment + LOCAL).date()


def _working_days_after(moment, days):
    """``days`` working days (Mon–Fri) after ``moment`` (holidays ignored: data, not policy)."""
    result = moment
    while days > 0:
        result += timedelta(days=1)
        if _local_date(result).weekday() < 5:
            days -= 1
    return result


class Generator:
    """Emits complaint, deadline and responsibility rows chunk by chunk."""

    COMPLAINT_COLUMNS = (
        "id", "number", "customer_id", "contact_name", "contact_phone", "channel", "received_at", "is_foreign",
        "order_reference", "product_id", "lot_number", "serial_number", "shipped_on", "quantity",
        "defective_quantity", "description", "demands", "registered_by_id", "department_id", "status", "severity",
        "category", "owner_id", "is_major", "major_reasons", "is_regulated", "investigation_report",
        "investigation_reported_at", "root_cause", "cause_category", "is_repeat", "disposition",
        "disposition_quantity", "loss_amount", "approval_band", "proposed_by_id", "proposed_at", "approved_by_id",
        "approved_at", "first_answer_at", "replied_at", "customer_accepted", "customer_response_at", "due_at",
        "closed_at", "closed_by_id", "close_reason", "overdue_reason", "closed_on_time", "days_to_close", "period",
        "closed_period", "search_text", "created_at", "updated_at",
    )  # fmt: skip
    DEADLINE_COLUMNS = (
        "id", "complaint_id", "kind", "due_at", "warn_at", "escalate_at", "escalate2_at", "warned_at",
        "reminded_at", "escalated_at", "escalated2_at", "met_at", "was_late", "created_at", "updated_at",
    )  # fmt: skip
    PARTY_COLUMNS = ("id", "complaint_id", "kind", "department_id", "person_id", "supplier_name", "share", "amount",
                     "closed_period")  # fmt: skip

    def __init__(self, rng, *, now, customers, products, owners, clerks, departments, approvers):
        self.rng, self.now = rng, now
        self.customers, self.products = customers, products
        self.big = customers[: len(customers) // 5]
        self.owners, self.clerks, self.departments, self.approvers = owners, clerks, departments, approvers
        self.ids = {"deadline": 0, "party": 0}
        self.month_seq = {}

    def _next(self, key):
        self.ids[key] += 1
        return self.ids[key]

    def _number(self, received):
        local = received + LOCAL
        key = (local.year, local.month)
        self.month_seq[key] = self.month_seq.get(key, 0) + 1
        return f"KS-{local:%y%m}-{self.month_seq[key]:03d}"

    def emit(self, received_moments, first_id):
        out = {"complaint": [], "deadline": [], "party": []}
        for offset, received in enumerate(received_moments):
            self._complaint(out, first_id + offset, received)
        return out

    def _complaint(self, out, pk, received):
        rng, now = self.rng, self.now
        customer = rng.choice(self.big) if rng.random() < 0.6 else rng.choice(self.customers)
        c_pk, c_code, c_name, c_short, foreign = customer
        product = rng.choice(self.products)
        p_pk, p_code, p_name, p_model, regulated, serialised = product
        status = _status(rng, (now - received).days)
        reached = ORDER.index(status) if status in ORDER else None
        if status == "rejected":
            reached = ORDER.index("replied")
        elif status == "not_substantiated":
            reached = rng.choice((1, 2, 3))
        # --- registration
        quantity = Decimal(rng.randint(1, 5) if serialised else rng.randint(10, 500))
        defective = min(quantity, Decimal(1 if serialised else rng.randint(1, 30)))
        shipped_on = _local_date(received) - timedelta(days=rng.randint(5, 200))
        if serialised:
            lot, serial = "", f"SN{p_code[3:]}{rng.randint(1, 400):07d}"
        else:
            lot, serial = f"L{p_code[3:]}-{shipped_on:%y%m}-{rng.randint(1, 3):02d}", ""
        contact = generate_name(rng)
        phone = f"0{rng.choice((10, 20, 21, 755, 571, 25, 28, 27))}-{rng.randint(10_000_000, 99_999_999)}"
        description = describe(rng, p_name, int(defective))
        order_reference = f"PO{rng.randint(1, 200_000):07d}" if rng.random() < 0.5 else ""
        number = self._number(received)
        clerk = rng.choice(self.clerks)
        close_days = 17 if foreign else 13
        due = received + timedelta(days=close_days)
        # --- the life of the case: when each step happened (capped at now)
        life = max(1.0, min(rng.lognormvariate(2.2, 0.45), 60.0))  # days from receipt to close
        if status not in FINAL:
            life = max(life, (now - received).total_seconds() / 86400 + 1)  # still open
        moments = {}
        for index, name in enumerate(ORDER[1:], start=1):
            if reached is not None and index <= reached:
                moments[name] = min(received + timedelta(days=life * index / 7.2), now)
        triaged = reached is not None and reached >= 1
        severity = _weighted(rng, SEVERITIES) if triaged else ""
        category = _weighted(rng, CATEGORIES) if triaged else ""
        owner = rng.choice(self.owners) if triaged else None
        investigated = reached is not None and reached >= 3 and status != "not_substantiated"
        cause = _weighted(rng, CAUSES) if investigated else ""
        proposed = reached is not None and reached >= 4 and status != "not_substantiated"
        disposition = _weighted(rng, DISPOSITIONS) if proposed else ""
        loss = Decimal(0)
        if proposed and disposition != "no_fault":
            loss = Decimal(int(min(rng.lognormvariate(8.0, 1.2), 400_000)))
        band = ""
        if proposed:
            band = "sales_manager" if loss <= 5000 else ("deputy_gm" if loss <= 50000 else "gm")
        approved = reached is not None and reached >= 5 and status != "not_substantiated"
        major_reasons = []
        if severity == "major":
            major_reasons.append("severity")
        if loss >= 100_000:
            major_reasons.append("amount")
        final = status in FINAL
        closed_at = min(received + timedelta(days=life), now - timedelta(minutes=5)) if final else None
        first_answer = received + timedelta(days=min(life * 0.3, rng.uniform(0.2, 9)))
        first_answer = first_answer if first_answer <= now and reached >= 1 else None
        closed_period = _local_period(closed_at) if closed_at else ""
        on_time = (closed_at <= due) if closed_at else None
        days_to_close = (_local_date(closed_at) - _local_date(received)).days if closed_at else None
        search_text = _search_text(
            number, customer, product, lot, serial, order_reference, contact, phone, description
        )
        out["complaint"].append(
            (
                pk, number, c_pk, contact, phone, _weighted(rng, CHANNELS), received, foreign, order_reference,
                p_pk, lot, serial, shipped_on, quantity, defective, description,
                json.dumps(rng.sample(DEMANDS, rng.randint(1, 2))), clerk, self.departments["sales"], status,
                severity, category, owner, bool(major_reasons), json.dumps(major_reasons), regulated,
                "对退回样品进行拆机分析，确认故障部位。" if investigated else "",
                moments.get("responsibility") if investigated else None,
                rng.choice(ROOT_CAUSES) if investigated else "", cause, rng.random() < 0.08 if investigated else False,
                disposition, defective if proposed else None, loss, band, owner if proposed else None,
                moments.get("awaiting_approval") if proposed else None,
                self.approvers[band] if approved else None, moments.get("approved") if approved else None,
                first_answer, moments.get("replied") if reached is not None and reached >= 6 else None,
                (status == "closed") if status in ("closed", "rejected") else None,
                closed_at if status in ("closed", "rejected") else None, due, closed_at,
                owner if final else None,
                "经调查，客户反映的问题不属实。" if status == "not_substantiated" else "",
                "客户样品寄回延迟，调查时间延长。" if final and not on_time else "",
                on_time, days_to_close, _local_period(received), closed_period, search_text, received,
                closed_at or received,
            )
        )  # fmt: skip
        self._deadlines(out, pk, received, foreign, first_answer, moments, closed_at, status)
        if investigated and status != "not_substantiated":
            self._parties(out, pk, loss, closed_period if final else "")

    def _deadlines(self, out, pk, received, foreign, first_answer, moments, closed_at, status):
        now = self.now
        investigation_met = moments.get("responsibility") if status != "not_substantiated" else closed_at
        kinds = (
            ("first_answer", received + timedelta(days=7), first_answer or closed_at),
            ("investigation", _working_days_after(received, 3), investigation_met or closed_at),
            ("close", received + timedelta(days=17 if foreign else 13), closed_at),
        )
        for kind, due, met in kinds:
            warn = max(received, due - timedelta(days=1))
            escalate, escalate2 = due + timedelta(days=1), due + timedelta(days=2)
            # The steady state the job leaves: each stage whose time came before the step was met
            # (and before now) was sent a few minutes after its time.
            limit = min(met, now) if met else now
            sent = [t + timedelta(minutes=7) if t <= limit - timedelta(minutes=15) else None
                    for t in (warn, due, escalate, escalate2)]  # fmt: skip
            out["deadline"].append(
                (self._next("deadline"), pk, kind, due, warn, escalate, escalate2, *sent, met,
                 (met > due) if met else None, received, met or received)
            )  # fmt: skip

    def _parties(self, out, pk, loss, closed_period):
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            parties = [("supplier", None, rng.choice(SUPPLIERS), Decimal(100))]
        elif roll < 0.30:
            first, second = rng.sample([d for d, _w in RESPONSIBLE_DEPTS], 2)
            split = Decimal(rng.choice((60, 70, 80)))
            parties = [("department", first, "", split), ("department", second, "", 100 - split)]
        else:
            parties = [("department", _weighted(rng, RESPONSIBLE_DEPTS), "", Decimal(100))]
        for kind, dept, supplier, share in parties:
            out["party"].append(
                (self._next("party"), pk, kind, self.departments[dept] if dept else None, None, supplier, share,
                 (loss * share / 100).quantize(Decimal("0.01")), closed_period)
            )  # fmt: skip


def generate_name(rng):
    from benchmarks.customers import GIVEN, SURNAMES

    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))


def _search_text(number, customer, product, lot, serial, order_reference, contact, phone, description):
    """The production search text (``build_search_text``) of the generated values."""
    from qcare.complaints.search import build_search_text

    _pk, c_code, c_name, c_short, _foreign = customer
    _ppk, p_code, p_name, p_model, _reg, _ser = product
    complaint = SimpleNamespace(
        number=number,
        customer=SimpleNamespace(code=c_code, name=c_name, short_name=c_short),
        product_id=1,
        product=SimpleNamespace(code=p_code, name=p_name, model=p_model),
        order_id=None,
        order=None,
        lot_number=lot,
        serial_number=serial,
        part_number="",
        order_reference=order_reference,
        contact_name=contact,
        contact_phone=phone,
        description=description,
    )
    return build_search_text(complaint)


def _received_moments(rng, size, now):
    """``size`` receipt moments (naive UTC) over YEARS years up to ``now``, in office hours, sorted."""
    span = YEARS * 365
    start = now - timedelta(days=span)
    moments = []
    for _ in range(size):
        day = (start + timedelta(days=rng.randrange(span + 1))).date()
        moment = datetime(day.year, day.month, day.day) + timedelta(
            hours=rng.uniform(0.5, 10)
        )  # 8:30–18:00 local
        moments.append(min(moment, now - timedelta(minutes=30)))
    moments.sort()
    return moments


def orders_size(size):
    """200,000 orders under 1,000,000 complaints; proportionally fewer (≥ 20,000) for smoke runs."""
    return max(20_000, min(ORDERS_SIZE, size // 5))


def generate_all(size, *, seed=2027):
    from django.db import connection, transaction

    from qcare.accounts.models import Department, User
    from qcare.catalog.models import Product
    from qcare.complaints import models as m
    from qcare.complaints.search import INDEX
    from qcare.customers.models import Customer

    started = time.perf_counter()
    orders_info = orders_generate.ensure_data(orders_size(size))
    orders_seconds = time.perf_counter() - started
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    owners = people()
    clerks = list(User.objects.filter(username__startswith="sales").values_list("pk", flat=True))
    departments = dict(Department.objects.values_list("code", "pk"))
    approvers = {
        "sales_manager": User.objects.get(username="rev_sales0").pk,
        "deputy_gm": User.objects.get(username="bench_gm").pk,
        "gm": User.objects.get(username="bench_gm").pk,
    }
    customers = list(
        Customer.objects.order_by("pk").values_list("pk", "code", "name", "short_name", "is_foreign")
    )
    kinds = {name: serialised for name, _c, _u, serialised in orders_generate.DEVICE_NAMES}
    products = [
        (pk, code, name, model, regulated, kinds.get(name, False))
        for pk, code, name, model, regulated in Product.objects.order_by("pk").values_list(
            "pk", "code", "name", "model", "is_regulated"
        )
    ]
    generator = Generator(rng, now=now, customers=customers, products=products, owners=owners, clerks=clerks,
                          departments=departments, approvers=approvers)  # fmt: skip
    moments = _received_moments(rng, size, now)
    loader = orders_generate.Loader(connection)
    tables = [m.Complaint, m.ComplaintDeadline, m.ResponsibleParty]
    load_started = time.perf_counter()
    INDEX.uninstall(connection, triggers_only=True)  # SQLite: rebuilt once after the load
    with orders_generate.DroppedIndexes(connection, [t._meta.db_table for t in tables]):
        for first in range(0, size, CHUNK):
            out = generator.emit(moments[first : first + CHUNK], first + 1)
            with transaction.atomic():
                loader.load(m.Complaint, Generator.COMPLAINT_COLUMNS, out["complaint"])
                loader.load(m.ComplaintDeadline, Generator.DEADLINE_COLUMNS, out["deadline"])
                loader.load(m.ResponsibleParty, Generator.PARTY_COLUMNS, out["party"])
            done = first + len(out["complaint"])
            if done % (CHUNK * 5) == 0 or done == size:
                generate.progress("complaints (+deadlines, shares)", done, size, load_started)
    load_seconds = time.perf_counter() - load_started
    fts_started = time.perf_counter()
    INDEX.install(connection)  # SQLite: triggers back + one FTS rebuild; PostgreSQL: already rebuilt
    fts_seconds = time.perf_counter() - fts_started
    print(f"  search index in {fts_seconds:.1f} s", flush=True)
    orders_generate._after_load(connection, tables)
    report_year = (now + LOCAL).year - 1
    info = {
        "generator_version": GENERATOR_VERSION,
        "fingerprint": fingerprint(),
        "seed": seed,
        "now": now.isoformat(),
        "report_year": report_year,
        "rows": dict(loader.counts),
        "customers": len(customers),
        "products": len(products),
        "wide_lot": orders_info["wide_lot"],
        "wide_lot_customers": orders_info["wide_lot_customers"],
        "short_term": SHORT_TERM,
        "long_term": LONG_TERM,
        "seconds": {
            "orders_data": round(orders_seconds, 1),
            "orders_data_reused": bool(orders_info.get("reused")),
            "load_and_index": round(load_seconds, 1),
            "search_index": round(fts_seconds, 1),
            "total": round(time.perf_counter() - started, 1),
        },
    }
    _write_marker(size, info)
    return info


def ensure_data(size):
    """The data set of ``size`` complaints: reused when the marker says it is complete, else generated."""
    info = existing_data(size)
    if info:
        print(
            f"  reusing the complaints generated at {info['now']} ({info['seconds']['total']} s then)",
            flush=True,
        )
        info["reused"] = True
        return info
    info = generate_all(size)
    info["reused"] = False
    return info
