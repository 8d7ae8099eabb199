"""A sales clerk's walk through the customer file in Chromium (R-CU-1…4, R-CU-7), Chinese UI:
create a distributor with a contact, add a licence with its scanned copy, log a plant visit
with a visit notice and a follow-up action, and find the customer again by a Chinese term."""

from datetime import date

import pytest
from playwright.sync_api import expect

from qcare.catalog.models import ProductCategory
from qcare.catalog.seed import seed_categories
from qcare.customers.models import Classification, Communication, Customer, Licence
from qcare.customers.seed import seed_classifications
from tests.browser.conftest import login, page, shot  # noqa: F401  (page is a fixture)
from tests.personas import PERSONA_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
NAME = "杭州瑞康医疗器械有限公司"


@pytest.fixture
def seeded(transactional_db):
    """The migrations' seed data (a transactional test flushes it away between tests)."""
    seed_classifications(Classification)
    seed_categories(ProductCategory)


def submit(pg, form):
    pg.click(f"[data-testid={form}] button[data-testid=save]")
    pg.wait_for_load_state()


def test_R_CU_browser_clerk_creates_distributor_licence_visit_and_finds_it(
    page,  # noqa: F811
    seeded,
    sales_clerk,
    org,
    tmp_path,
    settings,
):
    settings.MEDIA_ROOT = tmp_path / "uploads"
    login(page, sales_clerk, PERSONA_PASSWORD)

    # Customers → new customer: a distributor with its first contact.
    page.goto(page.base_url + "/customers/")
    assert page.get_attribute("html", "lang") == "zh-hans"
    page.click("[data-testid=new-customer]")
    page.fill("#id_name", NAME)
    page.fill("#id_short_name", "瑞康医疗")
    page.select_option("#id_customer_type", label="经销商")
    page.fill("#id_region", "浙江省杭州市")
    page.fill("#id_tax_id", "91330100MA2BROWSE1")
    page.fill("#id_contact_name", "陈经理")
    page.fill("#id_contact_phone", "0571-88886666")
    page.fill("#id_contact_mobile", "13812345678")
    shot(page, "customers-01-create")
    submit(page, "customer-form")
    page.wait_for_selector("[data-testid=tabs]")
    customer = Customer.objects.get(name=NAME)
    expect(page.locator("[data-testid=primary-contact]")).to_contain_text("陈经理")
    expect(page.locator("[data-testid=licence-badge]").first).to_be_visible()  # "no licence" yet

    # Licences tab → add a 医疗器械经营许可证 covering 07 and 22, valid until next year.
    page.click("[data-testid=tab-licences]")
    page.click("[data-testid=add-licence]")
    page.select_option("#id_kind", value="device_business")
    page.fill("#id_number", "浙杭食药监械经营许20240001号")
    page.fill("#id_authority", "杭州市市场监督管理局")
    page.fill("#id_valid_until", f"{date.today().year + 1}-06-30")
    for code in ("07", "22"):
        pk = ProductCategory.objects.get(code=code).pk
        page.check(f"input[name=categories][value='{pk}']")
    shot(page, "customers-02-licence-form")
    submit(page, "customers-form")
    page.wait_for_selector("[data-testid=attachments]")
    assert page.locator("[data-testid=licence-category]").count() == 2
    pdf = tmp_path / "经营许可证扫描件.pdf"
    pdf.write_bytes(PDF)
    page.set_input_files("[data-testid=attachments] input[type=file]", str(pdf))
    page.click("[data-testid=attachments] button[type=submit]")
    page.wait_for_selector("[data-testid=attachment-link]")
    expect(page.locator("[data-testid=attachment-link]")).to_contain_text("经营许可证扫描件.pdf")
    shot(page, "customers-03-licence-scan")
    licence = Licence.objects.get(customer=customer)
    assert set(licence.categories.values_list("code", flat=True)) == {"07", "22"}

    # Communication tab → a plant visit (客户来访) with a visit notice and a follow-up action.
    page.goto(page.base_url + f"/customers/{customer.pk}/?tab=communication")
    page.click("[data-testid=add-plant-visit]")
    assert page.input_value("#id_kind") == "plant_visit"
    page.fill("#id_subject", "客户来访：考察生产线")
    page.fill("#id_attendees", "陈经理、质量部杨丽")
    page.fill("#id_customer_opinions", "希望缩短交货期")
    page.check(f"input[name=notified_departments][value='{org['quality'].pk}']")
    page.fill("#id_action_0_description", "提交交货期改进方案")
    page.select_option("#id_action_0_owner", value=str(sales_clerk.pk))
    page.fill("#id_action_0_due_date", f"{date.today().year + 1}-01-15")
    shot(page, "customers-04-visit-form")
    submit(page, "communication-form")
    page.wait_for_selector("[data-testid=timeline-entry]")
    expect(page.locator("[data-testid=timeline]")).to_contain_text("客户来访：考察生产线")
    entry = Communication.objects.get(customer=customer)
    assert list(entry.notified_departments.values_list("code", flat=True)) == ["quality"]
    assert entry.actions.get().description == "提交交货期改进方案"

    # The 360 page in a phone-size window.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.base_url + f"/customers/{customer.pk}/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, "customers-05-360-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Find the customer again with a 2-character Chinese term from its name.
    page.goto(page.base_url + "/customers/")
    page.fill("#id_q", "瑞康")
    page.click("[data-testid=listing-form] button[type=submit]")
    expect(page.locator("[data-testid=listing] tbody tr")).to_have_count(1)
    expect(page.locator("[data-testid=listing]")).to_contain_text(customer.code)
    shot(page, "customers-06-search")
    assert page.csp_violations == []


def test_R_CU_browser_list_search_and_tabs_work_without_javascript(
    browser, live_server, seeded, sales_clerk, client
):
    from qcare.customers.search import refresh_search_text
    from tests.browser.conftest import login_by_session
    from tests.customers.conftest import create_customer_row

    customer = create_customer_row(
        sales_clerk, name=NAME, short_name="瑞康医疗", contacts=[{"name": "陈经理"}]
    )
    refresh_search_text(customer)
    create_customer_row(sales_clerk, name="北京协和医院")
    context = browser.new_context(java_script_enabled=False, locale="zh-CN")
    nojs = context.new_page()
    nojs.base_url = live_server.url
    try:
        login_by_session(nojs, client, sales_clerk)
        nojs.goto(live_server.url + "/customers/?q=瑞康")
        assert nojs.locator("[data-testid=listing] tbody tr").count() == 1
        nojs.click(f"text={customer.code}")
        nojs.click("[data-testid=tab-contacts]")
        assert "tab=contacts" in nojs.url
        assert nojs.locator("[data-testid=contact-row]").count() == 1
        nojs.click("[data-testid=tab-communication]")
        nojs.click("[data-testid=add-communication]")
        nojs.click("[data-testid=add-row]")  # "add another action" is a plain submit
        assert nojs.locator("[data-testid=follow-up-row]").count() == 2
    finally:
        context.close()
