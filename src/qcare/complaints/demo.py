"""Demo feedback, complaints, CAPA, returns, allowances and an advisory notice for ``qcare demo``
(R-CO-1…11).

Everything goes through the services, so numbers (FK/KS/CA/TH/AN), deadlines, transitions,
signatures, notifications and the audit trail are real:

* feedback in every state: open, answered, closed (praise noted) and converted into a complaint;
* complaints in every state — registered (the converted feedback), triaged, under investigation
  (a *major* one on the demo lot, with a requested and a written finding), root cause and
  responsibility (70/30), disposition awaiting approval, approved (a return: received, signed by
  the warehouse, inspected), replied (an allowance recorded for finance), closed (with the
  reportability decision), not substantiated, and rejected by the customer with its follow-up;
* a repeat group — three complaints on the same monitor with the same cause category — and the
  CAPA opened for it in one click, with one action done and one open;
* an advisory notice on the demo lot ``L2506A`` (and one monitor serial), issued and signed by
  the management representative, with its recipients and one acknowledgement.

Signatures need the demo users' password: :func:`load_demo` takes it (``qcare demo`` passes the
one it gave the users it created; else ``QCARE_DEMO_PASSWORD``) and checks it first. Idempotent:
each scenario is known by its first record's text (a feedback subject, a complaint description,
the notice title) and created only when missing, each in its own transaction. Needs the demo
users, customers, products and orders (lots and serials shipped by the orders demo; without them
the complaints name the product and lot by hand and the notice is left out).
"""

import logging
import os
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from qcare.catalog.models import Product
from qcare.complaints import services, services_capa, services_feedback, services_notices, services_returns
from qcare.complaints.choices import ReportOutcome, ReportQuestion
from qcare.complaints.models import AdvisoryNotice, Complaint, Feedback
from qcare.customers.models import Customer
from qcare.orders.models import ShipmentLine

logger = logging.getLogger(__name__)

#: Who does what in the demo (usernames of accounts/demo.py).
QUALITY = "sunhui"  # quality engineer: triage, investigation, replies, closing, CAPA, notices drafting
PRODUCTION = "liuyang"  # writes the production department's finding
WAREHOUSE = "huangmin"  # receives returns (signed)
FINANCE = "zhoujie"  # posts returns
MANAGEMENT_REP = "maqing"  # issues the advisory notice (signed), verifies CAPAs
APPROVERS = ("wangfang", "wuqiang", "xuming")  # sales manager, deputy GM, GM
ACTORS = (QUALITY, PRODUCTION, WAREHOUSE, FINANCE, MANAGEMENT_REP, *APPROVERS)

H1 = "广州市第一人民医院"
H2 = "深圳市人民医院"
D1 = "湖南湘雅医疗器械有限公司"
D2 = "武汉同济医疗器械贸易有限公司"
MONITOR = "JX-0701"  # the repeat group's product
PROBE = "JX-0603"  # lot L2506A, shipped to D1 by the orders demo
DEMO_LOT = "L2506A"
NOTICE_TITLE = "关于超声探头（线阵）批号 L2506A 的忠告性通知"


class Demo:
    """The context of one run: users by username, the password, now."""

    def __init__(self, users, password):
        self.users = users
        self.password = password
        self.now = timezone.now()
        self.today = timezone.localdate()

    def user(self, username):
        return self.users[username]

    @property
    def quality(self):
        return self.user(QUALITY)

    def shipment(self, customer, *, lot="", serial=""):
        """A shipment line of ``customer`` with that lot / serial (from the orders demo), or None."""
        lines = ShipmentLine.objects.filter(customer=customer).order_by("pk")
        if lot:
            lines = lines.filter(lot_number=lot)
        if serial:
            lines = lines.filter(serial_number__startswith=serial)
        return lines.first()

    def register(self, customer, description, *, product=None, lot="", serial="", days_ago=0, **fields):
        """A phone complaint of ``customer`` (registered by the customer's owner)."""
        line = self.shipment(customer, lot=lot, serial=serial) if (lot or serial) else None
        values = {
            "customer": customer,
            "channel": "phone",
            "description": description,
            "received_at": self.now - timedelta(days=days_ago),
            "contact_name": "设备科陈科长",
            "contact_phone": "020-8888 6666",
            "defective_quantity": Decimal("1"),
            "demands": ["exchange"],
        } | fields
        if line is not None:
            values["shipment_line"] = line
        else:
            values |= {
                "product": Product.objects.get(code=product) if product else None,
                "lot_number": lot,
                "serial_number": serial,
            }
            if values.get("quantity") is None and not values.get("quantity_pending"):
                values["quantity"] = Decimal("2")
        return services.register_complaint(customer.owner, **values)

    def triage(self, complaint, severity="minor", category="quality"):
        return services.triage_complaint(
            self.quality, complaint, severity=severity, category=category, owner=self.quality
        )

    def investigate(self, complaint, report="拆机检查：主板电源模块焊点虚焊，导致间歇性断电。", **triage):
        self.triage(complaint, **triage)
        services.start_investigation(self.quality, complaint, departments=[self.user(PRODUCTION).department])
        services.add_finding(
            self.user(PRODUCTION), complaint, text="查生产记录：该批次回流焊炉温曲线偏低 5 °C，已调整。"
        )
        return services.submit_investigation_report(self.quality, complaint, report=report)

    def responsibility(self, complaint, cause="production", *, split=True):
        departments = {d.code: d for d in _departments()}
        parties = [
            {"kind": "department", "department": departments["production"], "share": "70" if split else "100"}
        ]
        if split:
            parties.append({"kind": "department", "department": departments["quality"], "share": "30"})
        return services.set_responsibility(
            self.quality,
            complaint,
            root_cause="回流焊温度曲线设定偏低，出厂检验未覆盖间歇性故障。",
            cause_category=cause,
            parties=parties,
        )

    def propose(self, complaint, disposition="replace", loss="3000", quantity="1"):
        return services.propose_disposition(
            self.quality,
            complaint,
            disposition=disposition,
            details={
                "replace": "更换同型号整机 1 台",
                "return": "整批退货，重新发货",
                "allowance": "按货款 10% 折让",
            }.get(disposition, "按处理方案执行"),
            loss_amount=Decimal(loss),
            quantity=Decimal(quantity) if quantity else None,
        )

    def approve(self, complaint):
        complaint.refresh_from_db()
        approver = next(u for u in (self.user(n) for n in APPROVERS) if _may_approve(u, complaint))
        return services.approve_disposition(
            approver, complaint, password=self.password, comment="同意", username=approver.username
        )

    def reply(
        self,
        complaint,
        kind="final",
        text="经调查，问题由我司生产工艺引起，已按处理方案为贵院更换，特此致歉。",
    ):
        return services.record_reply(
            self.quality, complaint, kind=kind, channel="letter", replied_on=self.today, text=text
        )

    def reportability(self, complaint):
        complaint.refresh_from_db()
        if not complaint.is_regulated:
            return None
        return services.decide_reportability(
            self.quality,
            complaint,
            answers=dict.fromkeys(ReportQuestion.values, False),
            outcome=ReportOutcome.NOT_REPORTABLE,
            rationale="未造成死亡或严重伤害，故障不会导致严重伤害，不属于可疑医疗器械不良事件。",
            password=self.password,
            username=QUALITY,
        )

    def to_replied(self, complaint, **propose):
        self.investigate(complaint)
        self.responsibility(complaint)
        self.propose(complaint, **propose)
        self.approve(complaint)
        self.reply(complaint)
        complaint.refresh_from_db()
        return complaint


def _departments():
    from qcare.accounts.models import Department

    return Department.objects.filter(code__in=("production", "quality", "purchasing"))


def _may_approve(user, complaint):
    from qcare.complaints import authority

    return authority.can_approve(user, complaint.loss_amount)


# --- feedback (R-CO-1) --------------------------------------------------------------------------
def _feedback(demo, customers):
    """Feedback in every state; the claim becomes the registered complaint."""
    h2, d2 = customers[H2], customers[D2]
    made = 0
    plans = (
        ("询问输液泵新型号上市时间", "inquiry", h2, None),
        ("希望监护仪增加中文语音报警", "expectation_future", d2, "answer"),
        ("表扬售后工程师上门及时", "praise", h2, "close"),
        ("注射泵推注异常索赔", "claim", h2, "convert"),
    )
    for subject, kind, customer, then in plans:
        if Feedback.objects.filter(subject=subject).exists():
            continue
        with transaction.atomic():
            actor = customer.owner
            feedback = services_feedback.log_feedback(
                actor,
                channel="phone",
                kind=kind,
                subject=subject,
                content={
                    "inquiry": "客户设备科询问新型号输液泵何时上市及报价。",
                    "expectation_future": "客户希望监护仪报警增加中文语音提示，便于夜班护士识别。",
                    "praise": "客户来电表扬售后工程师当天上门，4 小时内排除故障。",
                    "claim": "客户来电：2 台注射泵推注速度偏慢，要求赔偿耽误的手术费用。",
                }[kind],
                customer=customer,
                contact_name="护士长刘女士",
                contact_phone="0755-2553 3018",
            )
            if then == "answer":
                services_feedback.answer_feedback(
                    actor,
                    feedback,
                    channel="phone",
                    answer="已转研发部评估，计划在下一版软件中提供中文语音报警。",
                )
            elif then == "close":
                services_feedback.close_feedback(actor, feedback, reason="表扬已转达售后部门，记入服务档案。")
            elif then == "convert":
                services_feedback.convert_feedback_to_complaint(
                    actor,
                    feedback,
                    product=Product.objects.get(code="JX-1402"),
                    quantity_pending=True,
                    demands=["compensation"],
                )
        made += 1
    return made


# --- complaints (R-CO-2 … R-CO-9) ----------------------------------------------------------------
def _triaged(demo, c):
    complaint = demo.register(c[H1], "彩超探头表面有划痕，图像出现一条竖线伪影。", product=PROBE, days_ago=1)
    demo.triage(complaint)


def _major(demo, c):
    """A major complaint on the demo lot (severity major → the deputy GM is told at once)."""
    complaint = demo.register(
        c[D1],
        "线阵探头外壳开裂，术中使用时患者皮肤轻微灼伤，医院要求立即调查并停用同批次产品。",
        product=PROBE,
        lot=DEMO_LOT,
        days_ago=2,
        demands=["return", "explanation"],
    )
    demo.triage(complaint, severity="major")
    services.start_investigation(
        demo.quality,
        complaint,
        departments=[d for d in _departments() if d.code in ("production", "purchasing")],
    )
    services.add_finding(
        demo.user(PRODUCTION), complaint, text="外壳注塑件来料批次 PP-2505 壁厚偏薄，正在复核。"
    )


def _responsibility(demo, c):
    complaint = demo.register(c[D2], "监护仪运行中间歇性黑屏重启，每天 2–3 次。", serial="PM7-2506-", product=MONITOR,
                              days_ago=12)  # fmt: skip
    demo.investigate(complaint)
    demo.responsibility(complaint)


def _awaiting_approval(demo, c):
    complaint = demo.register(c[H2], "监护仪开机后黑屏，需断电重启才能恢复。", product=MONITOR, days_ago=10)
    demo.investigate(complaint)
    demo.responsibility(complaint)
    demo.propose(complaint, "replace", "3000")


def _closed(demo, c):
    complaint = demo.register(c[H1], "监护仪使用中突然黑屏，重启后恢复，要求更换整机。", serial="PM7-2505-",
                              product=MONITOR, days_ago=8)  # fmt: skip
    demo.to_replied(complaint, disposition="replace", loss="4500")
    demo.reportability(complaint)
    services.record_customer_response(
        demo.quality, complaint, accepted=True, response="已收到更换的整机，同意结案。"
    )
    # The third complaint on the monitor with the same cause: a repeat group → one-click CAPA.
    complaint.refresh_from_db()
    if complaint.is_repeat and complaint.capa_id is None:
        capa = services_capa.open_capa_for_repeats(demo.quality, complaint)
        services_capa.add_action(
            demo.quality,
            capa,
            kind="correction",
            description="对库存及在途 PM-7000 监护仪逐台进行老化复测",
            owner=demo.quality,
            due_on=demo.today + timedelta(days=7),
        )
        action = capa.actions.order_by("pk").first()
        services_capa.complete_action(demo.quality, action, result="库存 46 台已复测，发现 2 台异常并返修。")
        services_capa.add_action(
            demo.quality,
            capa,
            kind="corrective",
            description="修订回流焊工艺卡，增加炉温曲线每日点检",
            owner=demo.user(PRODUCTION),
            due_on=demo.today + timedelta(days=30),
        )


def _approved_return(demo, c):
    """Approved return: note issued, goods received (signed by the warehouse), inspected."""
    complaint = demo.register(c[D2], "输液泵门锁扣断裂，整批 10 台中 4 台存在同样问题，要求退货。", product="JX-1401",
                              quantity=Decimal("10"), defective_quantity=Decimal("4"), demands=["return"],
                              days_ago=6)  # fmt: skip
    demo.investigate(complaint, report="门锁扣注塑件材料强度不足，供应商更换了原料牌号未通知。")
    demo.responsibility(complaint, cause="material", split=False)
    demo.propose(complaint, "return", "12000", quantity="4")
    demo.approve(complaint)
    note = services_returns.issue_return(
        demo.quality,
        complaint,
        approved_quantity=Decimal("4"),
        reason="门锁扣断裂",
        disposition="return_to_supplier",
    )
    warehouse = demo.user(WAREHOUSE)
    services_returns.receive_return(
        warehouse, note, received_quantity=Decimal("4"), password=demo.password, username=warehouse.username
    )
    services_returns.inspect_return(
        demo.quality, note, report="4 台门锁扣均断裂，与客户描述一致，退回供应商。"
    )


def _replied_allowance(demo, c):
    """Allowance approved and recorded for finance; the reply sent."""
    complaint = demo.register(c[H2], "监护仪移动推车 5 台表面划伤、外包装破损，影响入库验收，要求折让。", product="PJ-0001",
                              quantity=Decimal("10"), defective_quantity=Decimal("5"), demands=["allowance"],
                              days_ago=5)  # fmt: skip
    demo.investigate(complaint, report="运输途中外箱受压，推车表面划伤；功能无影响。")
    demo.responsibility(complaint, cause="packaging", split=False)
    demo.propose(complaint, "allowance", "800", quantity="5")
    demo.approve(complaint)
    services_returns.record_settlement(
        demo.quality, complaint, kind="allowance", amount=Decimal("800"), description="划伤 5 台按货款折让"
    )
    demo.reply(complaint, text="经核实为运输途中划伤，同意折让货款 800 元，折让证明随函附上。")


def _not_substantiated(demo, c):
    complaint = demo.register(c[D1], "客户称监护仪血氧读数偏低，怀疑设备不准。", product=MONITOR, days_ago=4)
    demo.triage(complaint)
    demo.reply(complaint, kind="first_answer", text="已安排工程师上门，用标准模拟器检测血氧读数。")
    demo.reportability(complaint)
    services.close_not_substantiated(
        demo.quality,
        complaint,
        reason="工程师用血氧模拟器检测，读数在允许误差内；读数偏低系患者末梢循环差所致。",
    )


def _rejected(demo, c):
    """Replied, the customer rejects the disposition: REJECTED and a follow-up opened."""
    complaint = demo.register(
        c[H1], "注射泵推注速度偏慢，实际流速比设定值低约 8%。", product="JX-1402", days_ago=9
    )
    demo.to_replied(complaint, disposition="replace", loss="2500")
    demo.reportability(complaint)
    services.record_customer_response(
        demo.quality, complaint, accepted=False, response="客户不接受更换，要求退货并赔偿。"
    )


def _registered_phone(demo, c):
    demo.register(c[D2], "客户来电：新到货的血氧探头接口针脚弯曲，数量待清点。", product="JX-0603",
                  quantity_pending=True)  # fmt: skip


#: (key = the first complaint's description, scenario); the repeat group is responsibility +
#: awaiting approval + closed (same monitor, cause "production"): closed must run last of them.
SCENARIOS = (
    ("彩超探头表面有划痕，图像出现一条竖线伪影。", _triaged),
    ("线阵探头外壳开裂，术中使用时患者皮肤轻微灼伤，医院要求立即调查并停用同批次产品。", _major),
    ("监护仪运行中间歇性黑屏重启，每天 2–3 次。", _responsibility),
    ("监护仪开机后黑屏，需断电重启才能恢复。", _awaiting_approval),
    ("监护仪使用中突然黑屏，重启后恢复，要求更换整机。", _closed),
    ("输液泵门锁扣断裂，整批 10 台中 4 台存在同样问题，要求退货。", _approved_return),
    ("监护仪移动推车 5 台表面划伤、外包装破损，影响入库验收，要求折让。", _replied_allowance),
    ("客户称监护仪血氧读数偏低，怀疑设备不准。", _not_substantiated),
    ("注射泵推注速度偏慢，实际流速比设定值低约 8%。", _rejected),
    ("客户来电：新到货的血氧探头接口针脚弯曲，数量待清点。", _registered_phone),
)


# --- advisory notice (R-CO-10) --------------------------------------------------------------------
def _notice(demo, customers):
    """An advisory notice on the demo lot and one monitor serial, issued, one acknowledgement."""
    if AdvisoryNotice.objects.filter(title=NOTICE_TITLE).exists():
        return 0
    probe_line = ShipmentLine.objects.filter(lot_number=DEMO_LOT).first()
    monitor_line = (
        ShipmentLine.objects.filter(product__code=MONITOR)
        .exclude(customer__name=D1)
        .exclude(serial_number="")
        .first()
    )
    if probe_line is None:
        logger.info("complaints demo: no shipment of lot %s (orders demo missing); notice skipped", DEMO_LOT)
        return 0
    items = [{"product": probe_line.product, "lot_number": DEMO_LOT}]
    if monitor_line is not None:
        items.append({"product": monitor_line.product, "serial_number": monitor_line.serial_number})
    major = Complaint.objects.filter(lot_number=DEMO_LOT).order_by("pk").first()
    rep = demo.user(MANAGEMENT_REP)
    with transaction.atomic():
        notice = services_notices.draft_notice(
            demo.quality,
            kind="advisory",
            title=NOTICE_TITLE,
            reason="该批次探头外壳注塑件壁厚偏薄，长时间使用可能开裂。",
            risk="medium",
            risk_description="外壳开裂处可能接触患者皮肤，存在轻微灼伤风险；未见严重伤害报告。",
            action_required="请立即检查库存及在用的该批次探头，停止使用外壳有裂纹的探头，并回复确认函。",
            items=items,
            complaint=major,
        )
        services_notices.issue_notice(rep, notice, password=demo.password, username=rep.username)
        recipient = notice.recipients.order_by("pk").first()
        services_notices.record_acknowledgement(
            demo.quality,
            recipient,
            acknowledged_by_name="设备科陈科长",
            action="returned",
            quantity_accounted=recipient.quantity_shipped,
            comment="库存探头已全部退回。",
        )
    return 1


# --- entry point ----------------------------------------------------------------------------------
def load_demo(password=None):
    """Create the demo feedback, complaints and notice that do not exist yet; returns how many
    scenarios were created (0 without the demo users, customers or the right password)."""
    password = password or os.environ.get("QCARE_DEMO_PASSWORD")
    users = _demo_users(password)
    if users is None:
        return 0
    customers = {c.name: c for c in Customer.objects.filter(name__in=(H1, H2, D1, D2))}
    needed = {MONITOR, PROBE, "JX-1401", "JX-1402", "PJ-0001"}
    if len(customers) != 4 or Product.objects.filter(code__in=needed).count() != len(needed):
        logger.info("complaints demo skipped: the demo customers or products are missing")
        return 0
    demo = Demo(users, password)
    created = _feedback(demo, customers)
    for key, scenario in SCENARIOS:
        if Complaint.objects.filter(description=key).exists():
            continue
        with transaction.atomic():
            scenario(demo, customers)
        created += 1
    created += _notice(demo, customers)
    return created


def _demo_users(password):
    """The demo users who act, or None when one is missing or the password is not theirs."""
    users = {u.username: u for u in get_user_model().objects.filter(username__in=ACTORS, is_active=True)}
    if set(users) != set(ACTORS):
        logger.info("complaints demo skipped: the demo users are missing")
        return None
    # Checked before signing anything: a wrong password would count as a failed signature.
    if not password or not all(user.check_password(password) for user in users.values()):
        logger.warning(
            "complaints demo skipped: the demo users' password is not known (set QCARE_DEMO_PASSWORD)"
        )
        return None
    return users
