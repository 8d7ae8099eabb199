"""The issue's full complaint case, clicked through in Chromium with the Chinese UI (R-CO-2…5, R-CO-9):

a sales clerk registers a phone complaint on a lot picked from the customer's shipments and
attaches a photo; quality triages it and starts the investigation asking production; production
writes its finding; quality submits the investigation report, splits the responsibility 70/30
(production / the supplier) and proposes an allowance of 12,000 CNY; the deputy GM approves it
with the password (his band); quality decides the reportability (regulated device) and records
the reply; the customer rejects it, which opens the linked follow-up; the follow-up goes through
the same steps and the customer accepts: closed on time.

Each person works in their own browser context. Screenshots: test-output/screenshots/complaints-*.png.
"""

import pytest
from playwright.sync_api import expect

from qcare.complaints.choices import ComplaintStatus
from qcare.complaints.models import Complaint
from tests.browser.conftest import login, shot
from tests.personas import PERSONA_PASSWORD

S = ComplaintStatus
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
    b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


class Session:
    """One person's browser context (own session: the first signature asks for the user name)."""

    def __init__(self, browser, live_server, user):
        self.user = user
        self.context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        self.context.set_default_timeout(15_000)
        self.page = self.context.new_page()
        self.page.csp_violations = []
        self.page.on(
            "console",
            lambda msg: "Content Security Policy" in msg.text and self.page.csp_violations.append(msg.text),
        )
        self.page.base_url = live_server.url
        login(self.page, user, PERSONA_PASSWORD)

    def go(self, path):
        self.page.goto(self.page.base_url + path)
        return self.page

    def open(self, complaint):
        return self.go(f"/complaints/{complaint.pk}/")


@pytest.fixture
def sessions(browser, live_server):
    opened = []

    def open_for(user):
        session = Session(browser, live_server, user)
        opened.append(session)
        return session

    yield open_for
    for session in opened:
        assert not session.page.csp_violations, session.page.csp_violations
        session.context.close()


def sign(page, prefix, user):
    """The password, and the user name when this is the session's first signature."""
    username = page.locator(f"#id_{prefix}-username")
    if username.count():
        username.fill(user.username)
    page.fill(f"#id_{prefix}-password", PERSONA_PASSWORD)


def submit(page, step):
    page.click(f"[data-testid={step}-submit]")
    page.wait_for_load_state()


def status_of(complaint):
    complaint.refresh_from_db()
    return complaint.status


def triage_and_investigate(quality, complaint, departments=()):
    page = quality.open(complaint)
    page.select_option("#id_triage-severity", "minor")
    page.select_option("#id_triage-category", "quality")
    page.select_option("#id_triage-owner", str(quality.user.pk))
    submit(page, "triage")
    assert status_of(complaint) == S.TRIAGED, page.inner_text("main")
    for department in departments:
        page.check(f"input[name='investigate-departments'][value='{department.pk}']")
    submit(page, "investigate")
    assert status_of(complaint) == S.INVESTIGATION, page.inner_text("main")
    return page


def report_and_split(quality, complaint, parties, *, report, root_cause):
    page = quality.open(complaint)
    page.fill("#id_report-report", report)
    submit(page, "report")
    page.fill("#id_responsibility-root_cause", root_cause)
    page.select_option("#id_responsibility-cause_category", "material")
    for i, (kind, who, share) in enumerate(parties):
        page.select_option(f"#id_responsibility-party_{i}_kind", kind)
        if kind == "department":
            page.select_option(f"#id_responsibility-party_{i}_department", str(who.pk))
        else:
            page.fill(f"#id_responsibility-party_{i}_supplier_name", who)
        page.fill(f"#id_responsibility-party_{i}_share", str(share))
    return page


def propose(page, complaint, *, loss, details):
    page.select_option("#id_disposition-disposition", "allowance")
    page.fill("#id_disposition-details", details)
    page.fill("#id_disposition-loss_amount", loss)
    submit(page, "disposition")
    assert status_of(complaint) == S.AWAITING_APPROVAL, page.inner_text("main")


def approve(deputy, complaint):
    page = deputy.go("/")
    page.click(f"a[href='/complaints/{complaint.pk}/']")  # the dashboard task
    expect(page.locator("[data-testid=approve-form]")).to_be_visible()
    sign(page, "approve", deputy.user)
    return page


def decide_and_reply(quality, complaint, reply):
    page = quality.open(complaint)
    for question in ("death", "serious_injury", "malfunction", "cluster", "device_related"):
        page.check(f"input[name='reportability-q_{question}'][value='no']")
    page.check("input[name='reportability-outcome'][value='not_reportable']")
    page.fill("#id_reportability-rationale", "读数不稳定，未造成伤害，也不会导致严重伤害。")
    sign(page, "reportability", quality.user)
    submit(page, "reportability")
    assert complaint.__class__.objects.get(pk=complaint.pk).reportability.outcome == "not_reportable"
    page.select_option("#id_reply-kind", "final")
    page.select_option("#id_reply-channel", "letter")
    page.fill("#id_reply-text", reply)
    submit(page, "reply")
    assert status_of(complaint) == S.REPLIED, page.inner_text("main")
    return page


def test_R_CO_browser_phone_complaint_on_a_lot_to_follow_up_accepted(
    sessions,
    sales_clerk,
    quality_engineer,
    reviewer_production,
    deputy_gm,
    distributor,
    shipped_lot,
    org,
    tmp_path,
    settings,
):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    clerk = sessions(sales_clerk)
    page = clerk.page

    # 1. The clerk registers the phone complaint; the lot is picked from the customer's shipments.
    clerk.go("/complaints/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    expect(page.locator("[data-testid=empty-state]")).to_be_visible()
    page.click("[data-testid=new-complaint]")
    page.select_option("#id_customer", str(distributor.pk))
    # htmx refreshes the customer's shipments; the option of lot L2609-01 appears.
    expect(page.locator(f"#id_shipment_line option[value='{shipped_lot.pk}']")).to_have_count(1)
    page.select_option("#id_shipment_line", str(shipped_lot.pk))
    page.select_option("#id_channel", "phone")
    page.fill("#id_contact_name", "陈经理")
    page.fill("#id_contact_phone", "020-88886666")
    page.fill("#id_defective_quantity", "3")
    page.fill("#id_description", "3 台监护仪开机后血氧读数不稳定，<script>客户</script>要求处理。")
    page.check("input[name=demands][value=allowance]")
    shot(page, "complaints-01-register")
    page.click("[data-testid=complaint-form] [data-testid=save]")
    page.wait_for_load_state()
    complaint = Complaint.objects.get(customer=distributor)
    assert (complaint.lot_number, complaint.shipment_line_id) == ("L2609-01", shipped_lot.pk)
    expect(page.locator("[data-testid=description]")).to_contain_text("<script>客户</script>")
    photo = tmp_path / "血氧读数照片.png"
    photo.write_bytes(PNG)
    page.set_input_files("#qc-attachments input[type=file]", str(photo))
    page.click("#qc-attachments button[type=submit]")
    expect(page.locator("[data-testid=attachment-link]")).to_have_text("血氧读数照片.png")
    shot(page, "complaints-02-registered")

    # 2. Quality triages and starts the investigation, asking production.
    quality = sessions(quality_engineer)
    page = triage_and_investigate(quality, complaint, [org["production"]])
    shot(page, "complaints-03-investigation")

    # 3. Production writes its finding (it sees the complaint because it was asked).
    production = sessions(reviewer_production)
    page = production.open(complaint)
    page.fill("#id_finding-text", "该批次血氧模块来料不良，装配后测试未覆盖低灌注场景。")
    submit(page, "finding")
    expect(page.locator("[data-testid=finding]")).to_contain_text("来料不良")
    shot(page, "complaints-04-finding")

    # 4. Quality: report, root cause and responsibility 70/30, allowance of 12,000 CNY.
    page = report_and_split(
        quality,
        complaint,
        [("department", org["production"], 70), ("supplier", "深圳某传感器厂", 30)],
        report="批号 L2609-01 血氧模块来料不良，装配测试未检出。",
        root_cause="血氧模块供应商批次不良，来料检验抽样不足。",
    )
    shot(page, "complaints-05-responsibility")
    submit(page, "responsibility")
    assert status_of(complaint) == S.RESPONSIBILITY, page.inner_text("main")
    expect(page.locator("[data-testid=party]")).to_have_count(2)
    propose(page, complaint, loss="12000", details="按发票金额给予 12,000 元折让")
    shot(page, "complaints-06-proposed")

    # 5. The deputy GM approves from his dashboard task, signing with the password.
    deputy = sessions(deputy_gm)
    page = approve(deputy, complaint)
    shot(page, "complaints-07-approval")
    submit(page, "approve")
    assert status_of(complaint) == S.APPROVED, page.inner_text("main")
    expect(page.locator("[data-testid=approved-by]")).to_contain_text(deputy_gm.full_name)
    parties = {p.share: p.amount for p in complaint.responsible_parties.all()}
    assert sorted(parties.values()) == [3600, 8400]

    # 6. Quality: the reportability decision (regulated device) and the reply by letter.
    page = decide_and_reply(quality, complaint, "经调查确认为来料不良，同意按发票金额给予 12,000 元折让。")
    shot(page, "complaints-08-replied")

    # 7. The customer rejects: the clerk records it and lands on the linked follow-up.
    page = clerk.open(complaint)
    page.check("input[name='response-accepted'][value='no']")
    page.fill("#id_response-response", "客户认为折让不足，要求更换 3 台整机。")
    submit(page, "response")
    assert status_of(complaint) == S.REJECTED
    follow_up = Complaint.objects.get(parent=complaint)
    assert page.url.endswith(f"/complaints/{follow_up.pk}/")
    expect(page.locator("[data-testid=parent-link]")).to_have_text(complaint.number)
    assert follow_up.lot_number == "L2609-01"
    shot(page, "complaints-09-follow-up")

    # 8. The follow-up: triage, investigation, 100 % production, allowance approved, reply, accepted.
    triage_and_investigate(quality, follow_up)
    page = report_and_split(
        quality,
        follow_up,
        [("department", org["production"], 100)],
        report="复查：同批次另 3 台整机存在同样问题。",
        root_cause="同一来料批次问题。",
    )
    submit(page, "responsibility")
    propose(page, follow_up, loss="9000", details="更换 3 台整机，另给予运费补偿")
    page = approve(deputy, follow_up)
    submit(page, "approve")
    assert status_of(follow_up) == S.APPROVED, page.inner_text("main")
    decide_and_reply(quality, follow_up, "同意更换 3 台整机并承担运费。")
    page = clerk.open(follow_up)
    page.check("input[name='response-accepted'][value='yes']")
    page.fill("#id_response-response", "客户接受。")
    submit(page, "response")
    assert status_of(follow_up) == S.CLOSED, page.inner_text("main")
    follow_up.refresh_from_db()
    assert follow_up.closed_on_time is True
    expect(page.locator("[data-testid=timeliness]")).to_be_visible()
    shot(page, "complaints-10-closed")

    # The print view of the internal form, and the list with both cases.
    page.click("[data-testid=print]")
    expect(page.locator("[data-testid=record-title]")).to_be_visible()
    shot(page, "complaints-11-print")
    clerk.go("/complaints/?q=L2609")
    expect(page.locator("[data-testid=complaint-row]")).to_have_count(2)
    shot(page, "complaints-12-list")
