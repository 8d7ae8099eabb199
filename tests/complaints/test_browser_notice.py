"""An advisory notice reaching every customer who received the lot (R-CO-10), walked in Chromium
with the Chinese UI: the management representative drafts a notice on lot L2609-01 (shipped to
three hospitals), sees the affected customers and their shipments before issuing, issues it with
the password, records the acknowledgements and actions of two customers, and sees the share of
units accounted for; then opens the printable letter of one customer.

Screenshots go to test-output/screenshots/complaints-notice-*.png.
"""

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from qcare.complaints.choices import NoticeStatus
from qcare.complaints.models import AdvisoryNotice
from tests.browser.conftest import (
    login,
    page,  # noqa: F401  (the "page" fixture: browser context, CSP log)
    shot,
)
from tests.complaints.conftest import LOT
from tests.personas import PERSONA_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_R_CO_10_notice_reaches_every_customer_of_the_lot_with_acknowledgements(
    page,  # noqa: F811
    management_rep,
    device,
    lot_to_customers,
):
    lines = lot_to_customers(3)  # three hospitals, 2 units of the lot each
    hospitals = [line.customer for line in lines]
    login(page, management_rep, PERSONA_PASSWORD)

    # draft the notice (no JavaScript needed: the rows are a formset)
    page.goto(page.base_url + reverse("complaints:notice_create"))
    page.select_option("#id_kind", "recall")
    page.fill("#id_title", "血氧探头接口可能接触不良")
    page.fill("#id_reason", "生产工艺变更后，部分探头接口焊点强度不足，可能导致血氧读数中断。")
    page.select_option("#id_risk", "high")
    page.fill("#id_action_required", "请立即停止使用受影响批次的探头，并退回本公司更换。")
    page.select_option("#id_items-0-product", str(device.pk))
    page.fill("#id_items-0-lot_number", LOT)
    shot(page, "complaints-notice-1-draft")
    page.click("[data-testid=notice-form] [data-testid=save]")
    page.wait_for_selector("[data-testid=affected]")
    notice = AdvisoryNotice.objects.get()

    # every customer who received the lot is listed before issuing
    rows = page.locator("[data-testid=affected-row]")
    expect(rows).to_have_count(3)
    for hospital in hospitals:
        expect(page.locator("[data-testid=affected]")).to_contain_text(hospital.name)
    shot(page, "complaints-notice-2-affected-customers")

    # issue with the password (first signature of the session: the user name too)
    page.click("[data-testid=issue]")
    page.wait_for_selector("[data-testid=action-form]")
    username = page.locator("#id_username")
    if username.count():
        username.fill(management_rep.username)
    page.fill("#id_password", PERSONA_PASSWORD)
    page.click("[data-testid=action-form] [data-testid=confirm]")
    page.wait_for_selector("[data-testid=recipients]")
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.ISSUED and notice.signature_id
    expect(page.locator("[data-testid=recipient-row]")).to_have_count(3)

    # acknowledgements and actions of two customers
    for index, (action, person) in enumerate((("returned", "刘主任"), ("destroyed", "王科长"))):
        page.locator("[data-testid=recipient-row]").nth(index).locator("[data-testid=record-ack]").click()
        page.wait_for_selector("[data-testid=action-form]")
        page.fill("#id_acknowledged_by_name", person)
        page.select_option("#id_action", action)
        page.fill("#id_quantity_accounted", "2")
        if index == 0:
            shot(page, "complaints-notice-3-acknowledgement")
        page.click("[data-testid=action-form] [data-testid=confirm]")
        page.wait_for_selector("[data-testid=recipients]")

    # effectiveness: 4 of the 6 units accounted for
    expect(page.locator("[data-testid=effectiveness]")).to_contain_text("66.7")
    assert page.locator("[data-testid=effectiveness-bar] rect").nth(1).get_attribute("width") == "66.7%"
    expect(page.locator("tr.table-success[data-testid=recipient-row]")).to_have_count(2)
    assert notice.recipients.filter(action="").count() == 1
    shot(page, "complaints-notice-4-effectiveness")

    # the printable letter of the customer still waiting, in its language (Chinese)
    page.locator("[data-testid=recipient-row]").nth(2).locator("[data-testid=letter]").click()
    page.wait_for_selector("[data-testid=letter]")
    expect(page.locator("[data-testid=letter-shipments]")).to_contain_text(LOT)
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    shot(page, "complaints-notice-5-letter")

    # a phone-sized screen keeps the recipients table inside its scroller
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.base_url + notice.get_absolute_url())
    shot(page, "complaints-notice-6-phone")
    assert page.csp_violations == []
