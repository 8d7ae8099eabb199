"""Screens of the customer file (R-CU-1…7): list, forms, the 360 page and its tabs, scope,
masking of personal data, the service-level view, portal isolation and anonymisation."""

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from qcare.accounts.models import Role, RolePermission
from qcare.catalog.models import ProductCategory
from qcare.core import ui
from qcare.core.context import audit_context
from qcare.customers.choices import ActionStatus, ClassificationKind, CommunicationKind, LicenceKind
from qcare.customers.models import (
    Classification,
    Communication,
    Contact,
    Customer,
    CustomerProperty,
    FollowUpAction,
    Licence,
)
from qcare.customers.search import refresh_search_text
from tests.contracts import RestrictedRecordContract
from tests.customers.conftest import create_customer_row as create_row
from tests.factories import UserFactory
from tests.personas import PERSONA_PASSWORD

pytestmark = pytest.mark.django_db

LIST = reverse("customers:list")
MOBILE = "13812345678"


def create_customer_row(owner, **fields):
    """A customer written through the ORM (fast), with its search text refreshed like a service does."""
    customer = create_row(owner, **fields)
    refresh_search_text(customer)
    return customer


def web(user):
    client = Client(headers={"accept-language": "zh-hans"})
    client.force_login(user)
    return client


def detail(customer, tab="overview"):
    return reverse("customers:detail", args=[customer.pk]) + f"?tab={tab}"


def listed_codes(response):
    return [row.code for row in response.context["listing"].page.object_list]


def add_licence(customer, *, until, kind=LicenceKind.DEVICE_BUSINESS, active=True, categories=()):
    with audit_context(actor=customer.owner, reason="测试数据"):
        licence = Licence.objects.create(
            customer=customer,
            kind=kind,
            number=f"粤穗食药监械经营许{customer.pk}{until:%m%d}",
            valid_until=until,
            is_active=active,
        )
        licence.categories.set(categories)
    return licence


# --- list (R-CU-1) -------------------------------------------------------------------------
def test_R_CU_1_list_search_chinese_and_code(sales_clerk):
    kangrui = create_customer_row(sales_clerk, name="广州康瑞医疗器械有限公司", short_name="康瑞医疗")
    other = create_customer_row(sales_clerk, name="北京协和医院")
    client = web(sales_clerk)
    assert listed_codes(client.get(LIST, {"q": "康瑞"})) == [kangrui.code]
    assert listed_codes(client.get(LIST, {"q": other.code})) == [other.code]
    empty = client.get(LIST, {"q": "不存在的客户"})
    assert 'data-testid="empty-state"' in empty.content.decode()


def test_R_CU_1_list_filters_type_origin_region_classes_owner(sales_clerk, sales_manager):
    distributor = Classification.objects.get(kind=ClassificationKind.TYPE, code="distributor")
    strategic = Classification.objects.get(kind=ClassificationKind.VALUE, code="strategic")
    intention = Classification.objects.get(kind=ClassificationKind.RELATIONSHIP, code="intention")
    a = create_customer_row(
        sales_clerk,
        type_code="distributor",
        region="浙江省杭州市",
        value_class=strategic,
        relationship=intention,
    )
    b = create_customer_row(sales_clerk, is_foreign=True, country="DE", region="Bayern")
    c = create_customer_row(sales_manager, region="浙江省宁波市")
    client = web(sales_manager)  # department scope: sees all three
    assert set(listed_codes(client.get(LIST))) == {a.code, b.code, c.code}
    assert listed_codes(client.get(LIST, {"type": distributor.pk})) == [a.code]
    assert listed_codes(client.get(LIST, {"origin": "foreign"})) == [b.code]
    assert set(listed_codes(client.get(LIST, {"origin": "domestic"}))) == {a.code, c.code}
    assert set(listed_codes(client.get(LIST, {"region": "浙江"}))) == {a.code, c.code}
    assert listed_codes(client.get(LIST, {"value": strategic.pk})) == [a.code]
    assert listed_codes(client.get(LIST, {"relationship": intention.pk})) == [a.code]
    assert listed_codes(client.get(LIST, {"owner": sales_manager.pk})) == [c.code]
    # Two filters and a search term together.
    assert listed_codes(client.get(LIST, {"region": "浙江", "owner": sales_clerk.pk, "q": a.code})) == [
        a.code
    ]


def test_R_CU_3_list_licence_status_filter_and_badge(sales_clerk):
    today = timezone.localdate()
    valid = create_customer_row(sales_clerk, type_code="distributor")
    add_licence(valid, until=today + timedelta(days=400))
    add_licence(valid, until=today - timedelta(days=400))  # an old one does not spoil the status
    expiring = create_customer_row(sales_clerk, type_code="distributor")
    add_licence(expiring, until=today + timedelta(days=10))
    expired = create_customer_row(sales_clerk, type_code="agent")
    add_licence(expired, until=today - timedelta(days=1))
    missing = create_customer_row(sales_clerk, type_code="distributor")
    hospital = create_customer_row(sales_clerk, type_code="hospital")  # needs none: neither missing nor valid
    client = web(sales_clerk)
    for status, expected in [
        ("valid", [valid]),
        ("expiring", [expiring]),
        ("expired", [expired]),
        ("missing", [missing]),
    ]:
        assert listed_codes(client.get(LIST, {"licence": status})) == [c.code for c in expected], status
    assert hospital.code in listed_codes(client.get(LIST))
    html = client.get(LIST).content.decode()
    assert html.count('data-testid="licence-badge"') == 4  # the hospital shows none


def test_R_CU_1_list_sort_and_pagination(sales_clerk):
    names = [f"Customer {(i * 7) % 30:02d}" for i in range(30)]  # created out of name order
    customers = [create_customer_row(sales_clerk, name=name) for name in names]
    client = web(sales_clerk)
    first = client.get(LIST)
    assert first.context["listing"].count == 30
    assert len(listed_codes(first)) == 25
    assert listed_codes(first) == sorted(c.code for c in customers)[:25]
    second = client.get(LIST, {"page": 2})
    assert len(listed_codes(second)) == 5
    assert not set(listed_codes(first)) & set(listed_codes(second))
    by_code_desc = client.get(LIST, {"sort": "-code"})
    assert listed_codes(by_code_desc)[0] == max(c.code for c in customers)
    by_name = client.get(LIST, {"sort": "name", "page_size": 50})
    assert [r.name for r in by_name.context["listing"].page.object_list] == sorted(names)
    by_name_desc = client.get(LIST, {"sort": "-name"})
    assert by_name_desc.context["listing"].page.object_list[0].name == "Customer 29"
    # An unknown sort falls back to the default instead of failing.
    assert client.get(LIST, {"sort": "tax_id"}).status_code == 200


def test_P7_list_scope_own_customers_only(sales_clerk, sales_clerk_2):
    mine = create_customer_row(sales_clerk)
    theirs = create_customer_row(sales_clerk_2)
    codes = listed_codes(web(sales_clerk).get(LIST))
    assert mine.code in codes and theirs.code not in codes
    assert web(sales_clerk).get(detail(theirs)).status_code == 404


def test_R_CU_1_list_htmx_returns_the_table_only(sales_clerk):
    create_customer_row(sales_clerk, name="杭州和康医疗")
    response = web(sales_clerk).get(
        LIST, {"q": "和康"}, headers={"hx-request": "true", "hx-target": "qc-listing"}
    )
    html = response.content.decode()
    assert 'id="qc-listing"' in html and "<html" not in html


# --- create / edit (R-CU-1, R-CU-2) --------------------------------------------------------
def create_form(**extra):
    distributor = Classification.objects.get(kind=ClassificationKind.TYPE, code="distributor")
    return {
        "name": "广州康瑞医疗器械有限公司",
        "short_name": "康瑞医疗",
        "customer_type": distributor.pk,
        "country": "CN",
        "region": "广东省广州市",
        "tax_id": "91440101MA5CXXXX1A",
        "preferred_language": "zh-hans",
        "preferred_channel": "email",
        **extra,
    }


def test_R_CU_1_create_shows_translated_field_errors_inline(sales_clerk):
    client = web(sales_clerk)
    response = client.post(reverse("customers:create"), create_form(name=""))
    assert response.status_code == 200
    assert "name" in response.context["form"].errors
    html = response.content.decode()
    assert "is-invalid" in html and "此字段为必填项" in html  # Chinese, not the English msgid
    # The type-dependent rule is the service's: a distributor needs a tax id and a region.
    by_type = client.post(reverse("customers:create"), create_form(tax_id="", region=""))
    assert by_type.status_code == 200
    assert {"tax_id", "region"} <= set(by_type.context["form"].errors)
    assert 'aria-invalid="true"' in by_type.content.decode()
    assert Customer.objects.count() == 0


def test_R_CU_2_create_with_first_contact_and_contact_errors_inline(sales_clerk):
    client = web(sales_clerk)
    bad = client.post(
        reverse("customers:create"), create_form(contact_name="陈经理", contact_phone="电话号码")
    )
    assert bad.status_code == 200
    assert "contact_phone" in bad.context["form"].errors
    assert Customer.objects.count() == 0
    ok = client.post(
        reverse("customers:create"),
        create_form(contact_name="陈经理", contact_mobile=MOBILE, contact_phone="020-88886666"),
    )
    customer = Customer.objects.get()
    assert ok.status_code == 302 and ok["Location"] == reverse("customers:detail", args=[customer.pk])
    contact = customer.contacts.get()
    assert contact.name == "陈经理" and contact.is_primary and contact.mobile == MOBILE
    assert customer.owner == sales_clerk
    # A clerk cannot create for someone else: the owner field is not offered.
    assert "owner" not in client.get(reverse("customers:create")).context["form"].fields


def test_R_CU_1_technician_cannot_open_the_create_form(technician):
    assert web(technician).get(reverse("customers:create")).status_code == 403


def test_P3_edit_needs_a_reason(sales_clerk):
    customer = create_customer_row(sales_clerk, name="旧名称")
    client = web(sales_clerk)
    url = reverse("customers:edit", args=[customer.pk])
    data = {
        "name": "新名称",
        "customer_type": customer.customer_type_id,
        "country": "CN",
        "preferred_language": "zh-hans",
        "preferred_channel": "email",
        "version": customer.version,
    }
    refused = client.post(url, data)
    assert refused.status_code == 200 and "reason" in refused.context["form"].errors
    customer.refresh_from_db()
    assert customer.name == "旧名称"
    saved = client.post(url, data | {"reason": "客户更名（营业执照变更）"})
    assert saved.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "新名称"
    # The stale version that was on screen is refused, nothing is lost silently.
    stale = client.post(url, data | {"name": "又一个名称", "reason": "再改", "version": customer.version - 1})
    assert stale.status_code == 200 and stale.context["form"].non_field_errors()
    customer.refresh_from_db()
    assert customer.name == "新名称"


def test_R_CU_1_reassign_needs_permission_and_reason(sales_clerk, sales_clerk_2, sales_manager):
    customer = create_customer_row(sales_clerk)
    url = reverse("customers:reassign", args=[customer.pk])
    assert web(sales_clerk).get(url).status_code == 404  # a clerk holds no reassign scope
    manager = web(sales_manager)
    refused = manager.post(url, {"new_owner": sales_clerk_2.pk})
    assert refused.status_code == 200 and "reason" in refused.context["form"].errors
    assert manager.post(url, {"new_owner": sales_clerk_2.pk, "reason": "区域调整"}).status_code == 302
    customer.refresh_from_db()
    assert customer.owner == sales_clerk_2


def test_R_CU_1_deactivate_asks_for_reason(administrator, sales_clerk):
    customer = create_customer_row(sales_clerk)
    url = reverse("customers:deactivate", args=[customer.pk])
    page = web(administrator).get(url).content.decode()
    assert "data-confirm" in page
    assert (
        web(administrator).post(url, {"reason": "公司注销", "version": customer.version}).status_code == 302
    )
    customer.refresh_from_db()
    assert not customer.is_active


# --- customer 360 (R-CU-7) -----------------------------------------------------------------
def rich_customer(owner, size):
    """A customer with ``size`` contacts, licences, log entries, actions and property items."""
    customer = create_customer_row(
        owner,
        type_code="distributor",
        contacts=[{"name": f"联系人{i}", "mobile": f"1391234{i:04d}"} for i in range(size)],
    )
    categories = list(ProductCategory.objects.all()[:3])
    with audit_context(actor=owner):
        for i in range(size):
            add_licence(
                customer, until=timezone.localdate() + timedelta(days=30 * (i + 1)), categories=categories
            )
            entry = Communication.objects.create(
                customer=customer,
                kind=CommunicationKind.PLANT_VISIT,
                occurred_at=timezone.now() - timedelta(days=i),
                subject=f"来访{i}",
                recorded_by=owner,
                contact=customer.contacts.first(),
            )
            entry.notified_departments.set([owner.department])
            FollowUpAction.objects.create(
                customer=customer,
                communication=entry,
                description=f"跟进{i}",
                owner=owner,
                due_date=date.today(),
            )
            FollowUpAction.objects.create(
                customer=customer,
                description=f"已完成{i}",
                owner=owner,
                due_date=date.today(),
                status=ActionStatus.DONE,
            )
            CustomerProperty.objects.create(customer=customer, kind="tooling", name=f"模具{i}")
    return customer


TABS = ("overview", "contacts", "licences", "communication", "actions", "property", "history", "related")


def queries_per_tab(client, customer):
    counts = {}
    for tab in TABS:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(detail(customer, tab))
        assert response.status_code == 200, tab
        assert response.context["tab"] == tab
        # The policy cache checks its freshness now and then (time-based): not the page's cost.
        counts[tab] = [q["sql"] for q in queries.captured_queries if "core_policyvalue" not in q["sql"]]
    return counts


def test_R_CU_7_every_tab_renders_with_bounded_queries(sales_clerk):
    small, large = rich_customer(sales_clerk, 2), rich_customer(sales_clerk, 12)
    client = web(sales_clerk)
    queries_per_tab(client, small)  # warm per-process caches (policies, content types)
    small_counts, large_counts = queries_per_tab(client, small), queries_per_tab(client, large)
    for tab in TABS:
        assert len(large_counts[tab]) <= len(small_counts[tab]), (
            tab,
            set(large_counts[tab]) - set(small_counts[tab]),
        )
    assert max(len(queries) for queries in large_counts.values()) < 30
    page = client.get(detail(large, "communication")).content.decode()
    assert page.count('data-testid="timeline-entry"') == 12
    assert "来访0" in page and 'data-testid="to-action"' in page


def test_R_CU_7_print_page_of_the_customer(sales_clerk):
    customer = create_customer_row(sales_clerk, name="打印测试医院")
    client = web(sales_clerk)
    url = reverse("core:print", args=["customers", "customer", customer.pk])
    assert url in client.get(detail(customer)).content.decode()
    response = client.get(url)
    assert response.status_code == 200 and "打印测试医院" in response.content.decode()


def test_R_CU_7_htmx_tab_request_returns_the_panel_only(sales_clerk):
    customer = rich_customer(sales_clerk, 1)
    response = web(sales_clerk).get(
        detail(customer, "licences"), headers={"hx-request": "true", "hx-target": "qc-tab-panel"}
    )
    html = response.content.decode()
    assert 'data-testid="licence-row"' in html and "<html" not in html


def test_R_CU_7_related_sections_wait_for_their_modules(sales_clerk):
    customer = create_customer_row(sales_clerk)
    html = web(sales_clerk).get(detail(customer, "related")).content.decode()
    assert html.count('data-testid="future-section"') == 5


# --- confidentiality (R-CU-6) --------------------------------------------------------------
def test_R_CU_6_personal_data_masked_without_permission(sales_manager, quality_engineer):
    customer = create_customer_row(
        sales_manager, contacts=[{"name": "陈经理", "mobile": MOBILE, "id_number": "440101199001011234"}]
    )
    shown = web(sales_manager).get(detail(customer, "contacts")).content.decode()
    assert MOBILE in shown and "440101199001011234" in shown
    masked = web(quality_engineer).get(detail(customer, "contacts")).content.decode()
    assert MOBILE not in masked and "440101199001011234" not in masked
    assert "138****5678" in masked and 'data-testid="masked-note"' in masked
    # The overview's primary-contact card masks too.
    assert MOBILE not in web(quality_engineer).get(detail(customer)).content.decode()


def test_R_CU_6_contact_edit_form_never_carries_personal_data_to_a_masked_user(sales_manager, org):
    customer = create_customer_row(sales_manager, contacts=[{"name": "陈经理", "mobile": MOBILE}])
    url = reverse("customers:contact_edit", args=[customer.contacts.get().pk])
    assert MOBILE in web(sales_manager).get(url).content.decode()
    role = Role.objects.create(code="cust_editor", name="客户资料维护（无个人信息）")
    for perm in ("customers.view", "customers.change"):
        RolePermission.objects.create(role=role, permission=perm, scope="all")
    editor = UserFactory(roles=[role], department=org["sales"])
    form = web(editor).get(url)
    assert MOBILE not in form.content.decode() and "mobile" not in form.context["form"].fields


def test_R_CU_6_technician_sees_service_fields_only(technician, sales_clerk):
    customer = create_customer_row(
        sales_clerk,
        address="广州市天河区体育西路1号",
        tax_id="91440101MA5TECH01X",
        payment_terms="月结60天",
        contacts=[{"name": "陈经理", "phone": "020-88886666", "mobile": MOBILE}],
    )
    client = web(technician)
    listing = client.get(LIST)
    assert customer.code in listed_codes(listing)
    assert [c["name"] for c in listing.context["listing"].header()] == ["code", "name", "region", "address"]
    page = client.get(detail(customer)).content.decode()
    assert "广州市天河区体育西路1号" in page
    assert "91440101MA5TECH01X" not in page and "月结60天" not in page
    assert [key for key, _label in client.get(detail(customer)).context["tabs"]] == ["overview", "contacts"]
    contacts = client.get(detail(customer, "contacts")).content.decode()
    assert "020-88886666" in contacts and MOBILE not in contacts and "138****5678" not in contacts
    # Other tabs fall back to the overview; write screens are refused.
    assert client.get(detail(customer, "communication")).context["tab"] == "overview"
    assert client.get(reverse("customers:edit", args=[customer.pk])).status_code == 404


def test_P7_portal_user_gets_404_on_another_company(sales_clerk, make_portal_user):
    mine, other = create_customer_row(sales_clerk), create_customer_row(sales_clerk)
    portal = web(make_portal_user(mine))
    assert portal.get(detail(mine)).status_code == 200
    assert portal.get(detail(other)).status_code == 404
    assert listed_codes(portal.get(LIST)) == [mine.code]


def test_R_CU_6_anonymise_is_signed_and_warns(administrator, sales_clerk):
    customer = create_customer_row(
        sales_clerk, name="张三诊所", contacts=[{"name": "张三", "mobile": MOBILE}]
    )
    client = web(administrator)
    url = reverse("customers:anonymise", args=[customer.pk])
    assert web(sales_clerk).get(url).status_code == 404  # a clerk holds no anonymise scope
    page = client.get(url)
    assert 'data-testid="anonymise-warning"' in page.content.decode()
    assert "username" in page.context["form"].fields  # first signature of the session
    data = {
        "request_reference": "客户书面申请 2026-11-20",
        "reason": "客户要求删除个人信息",
        "meaning": "approved",
    }
    wrong = client.post(url, data | {"username": administrator.username, "password": "wrong-password"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    customer.refresh_from_db()
    assert customer.anonymised_at is None
    done = client.post(url, data | {"username": administrator.username, "password": PERSONA_PASSWORD})
    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.anonymised_at is not None and "张三" not in customer.name
    assert MOBILE not in client.get(detail(customer, "contacts")).content.decode()
    assert client.get(detail(customer)).context["can_anonymise"] is False


# --- child records: contacts, licences, log, actions, property (R-CU-2…5) -------------------
def test_R_CU_2_add_contact_and_make_primary(sales_clerk):
    customer = create_customer_row(sales_clerk, contacts=[{"name": "甲"}])
    client = web(sales_clerk)
    assert (
        client.post(
            reverse("customers:contact_add", args=[customer.pk]), {"name": "乙", "phone": "020-1234567"}
        ).status_code
        == 302
    )
    second = Contact.objects.get(name="乙")
    url = reverse("customers:contact_primary", args=[second.pk])
    assert client.post(url, {"reason": "", "version": second.version}).status_code == 200
    assert client.post(url, {"reason": "陈经理离职", "version": second.version}).status_code == 302
    assert Contact.objects.get(customer=customer, is_primary=True).name == "乙"


def test_R_CU_3_add_licence_with_categories_then_its_page(sales_clerk):
    customer = create_customer_row(sales_clerk, type_code="distributor")
    client = web(sales_clerk)
    cats = ProductCategory.objects.filter(code__in=["07", "22"])
    response = client.post(
        reverse("customers:licence_add", args=[customer.pk]),
        {
            "kind": LicenceKind.DEVICE_BUSINESS,
            "number": "粤穗食药监械经营许20230001号",
            "authority": "广州市市场监督管理局",
            "valid_until": (date.today() + timedelta(days=365)).isoformat(),
            "categories": [c.pk for c in cats],
        },
    )
    licence = Licence.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "customers:licence", args=[licence.pk]
    )
    assert set(licence.categories.values_list("code", flat=True)) == {"07", "22"}
    page = client.get(response["Location"]).content.decode()
    assert page.count('data-testid="licence-category"') == 2
    html = client.get(detail(customer)).content.decode()
    assert 'data-testid="licence-badge"' in html


def test_R_CU_4_plant_visit_with_notice_and_follow_up_rows(sales_clerk, sales_clerk_2, org):
    customer = create_customer_row(sales_clerk, contacts=[{"name": "陈经理"}])
    client = web(sales_clerk)
    url = reverse("customers:communication_add", args=[customer.pk])
    visit = {
        "kind": CommunicationKind.PLANT_VISIT,
        "direction": "in",
        "occurred_at": "2026-11-20T10:00",
        "contact": customer.contacts.get().pk,
        "subject": "客户来访：审核生产线",
        "attendees": "陈经理、王工",
        "customer_opinions": "希望缩短交货期",
        "notified_departments": [org["quality"].pk, org["production"].pk],
        "rows": 1,
        "action_0_description": "提供交货期方案",
        "action_0_owner": sales_clerk.pk,
        "action_0_due_date": "2026-11-30",
    }
    # "Add another action" without JS: the form comes back with two rows, nothing saved.
    more = client.post(url, visit | {"add_row": "1"})
    assert more.status_code == 200 and more.context["form"].row_count == 2
    assert Communication.objects.count() == 0
    # A half-filled row is an error on that row's fields.
    bad = client.post(url, visit | {"rows": 2, "action_1_description": "质量部回访"})
    assert bad.status_code == 200 and "action_1_owner" in bad.context["form"].errors
    saved = client.post(
        url,
        visit
        | {
            "rows": 2,
            "action_1_description": "质量部回访",
            "action_1_owner": sales_clerk_2.pk,
            "action_1_due_date": "2026-12-05",
        },
    )
    assert saved.status_code == 302
    entry = Communication.objects.get()
    assert set(entry.notified_departments.values_list("code", flat=True)) == {"quality", "production"}
    assert sorted(entry.actions.values_list("description", flat=True)) == ["提供交货期方案", "质量部回访"]


def test_R_CU_4_turn_log_entry_into_follow_up_and_complete_it(sales_clerk):
    customer = create_customer_row(sales_clerk)
    with audit_context(actor=sales_clerk):
        entry = Communication.objects.create(
            customer=customer,
            kind=CommunicationKind.CALL,
            occurred_at=timezone.now(),
            subject="询价",
            recorded_by=sales_clerk,
        )
    client = web(sales_clerk)
    url = reverse("customers:action_add", args=[customer.pk]) + f"?from={entry.pk}"
    assert client.get(url).context["form"].initial["description"] == "询价"
    response = client.post(
        url,
        {"from": entry.pk, "description": "发送报价单", "owner": sales_clerk.pk, "due_date": "2026-12-01"},
    )
    assert response.status_code == 302
    action = FollowUpAction.objects.get()
    assert action.communication == entry
    done = client.post(reverse("customers:action_complete", args=[action.pk]), {"result": "已发送"})
    assert done.status_code == 302
    action.refresh_from_db()
    assert action.status == ActionStatus.DONE and action.result == "已发送"


def test_R_CU_4_responsible_person_closes_their_action_without_change_right(
    sales_clerk, sales_clerk_2, quality_engineer
):
    customer = create_customer_row(sales_clerk)
    with audit_context(actor=sales_clerk):
        action = FollowUpAction.objects.create(
            customer=customer, description="质量部回访客户", owner=quality_engineer, due_date=date.today()
        )
    url = reverse("customers:action_complete", args=[action.pk])
    assert web(sales_clerk_2).get(url).status_code == 404  # neither responsible nor in scope
    tasks = {g.key: g for g in ui.tasks.for_user(quality_engineer)}
    assert tasks["customers.actions"].items[0]["url"] == url
    page = web(quality_engineer).get(url)
    assert "质量部回访客户" in page.content.decode()
    assert web(quality_engineer).post(url, {"result": "客户满意"}).status_code == 302
    action.refresh_from_db()
    assert action.status == ActionStatus.DONE


def test_R_CU_5_register_property_and_report_damage(sales_clerk):
    customer = create_customer_row(sales_clerk, contacts=[{"name": "陈经理", "email": "chen@example.com"}])
    client = web(sales_clerk)
    assert (
        client.post(
            reverse("customers:property_add", args=[customer.pk]),
            {"kind": "tooling", "name": "注塑模具A", "quantity": "1", "location": "模具库"},
        ).status_code
        == 302
    )
    prop = CustomerProperty.objects.get()
    response = client.post(
        reverse("customers:property_incident", args=[prop.pk]),
        {
            "kind": "damage",
            "occurred_on": date.today().isoformat(),
            "description": "模具型腔划伤",
            "notify_contact": customer.contacts.get().pk,
        },
    )
    assert response.status_code == 302
    page = client.get(detail(customer, "property")).content.decode()
    assert 'data-testid="incident"' in page and "模具型腔划伤" in page


def test_R_CU_2_edits_of_child_records_need_a_reason_keep_input_and_go_back(sales_clerk):
    """Controlled edits through the screens: refused without a reason (form again, input kept,
    nothing saved), saved with one and back on the record's tab; a stale version is refused."""
    customer = create_customer_row(sales_clerk, contacts=[{"name": "甲", "phone": "020-11111111"}])
    contact = customer.contacts.get()
    client = web(sales_clerk)
    url = reverse("customers:contact_edit", args=[contact.pk])
    posted = {
        "name": "甲经理",
        "phone": "020-22222222",
        "is_primary": "on",
        "reason": "",
        "version": contact.version,
    }
    response = client.post(url, posted)
    assert response.status_code == 200 and "甲经理" in response.content.decode()
    contact.refresh_from_db()
    assert contact.name == "甲"
    response = client.post(url, posted | {"reason": "名片更新"})
    assert response.status_code == 302 and response["Location"] == detail(customer, "contacts")
    contact.refresh_from_db()
    assert (contact.name, contact.phone) == ("甲经理", "020-22222222")
    stale = client.post(url, posted | {"name": "旧", "reason": "重复提交"})
    assert stale.status_code == 200
    contact.refresh_from_db()
    assert contact.name == "甲经理"

    deactivate = reverse("customers:contact_deactivate", args=[contact.pk])
    response = client.post(deactivate, {"reason": "离职", "version": contact.version})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.is_active is False


# --- classification lists (R-CU-1) ---------------------------------------------------------
def test_R_CU_1_classification_lists_are_configurable(administrator, sales_clerk):
    url = reverse("customers:classifications")
    assert web(sales_clerk).get(url).status_code == 403
    client = web(administrator)
    assert "经销商" in client.get(url).content.decode()
    added = client.post(
        reverse("customers:classification_add"),
        {"kind": "value", "code": "key", "name": "关键客户", "name_en": "Key", "sort_order": 5},
    )
    assert added.status_code == 302
    entry = Classification.objects.get(code="key")
    duplicate = client.post(
        reverse("customers:classification_add"),
        {"kind": "value", "code": "key", "name": "重复", "sort_order": 5},
    )
    assert "code" in duplicate.context["form"].errors
    edit = reverse("customers:classification_edit", args=[entry.pk])
    base = {"name": "关键客户", "sort_order": 5, "version": entry.version}
    assert "reason" in client.post(edit, base).context["form"].errors
    assert client.post(edit, base | {"reason": "不再使用"}).status_code == 302  # is_active unticked
    entry.refresh_from_db()
    assert not entry.is_active


# --- navigation and tasks ------------------------------------------------------------------
def test_R_CU_4_dashboard_tasks_my_actions_and_expiring_licences(sales_clerk):
    customer = create_customer_row(sales_clerk, type_code="distributor")
    add_licence(customer, until=timezone.localdate() + timedelta(days=20))
    with audit_context(actor=sales_clerk):
        FollowUpAction.objects.create(
            customer=customer,
            description="回访",
            owner=sales_clerk,
            due_date=date.today() - timedelta(days=1),
        )
    groups = {g.key: g for g in ui.tasks.for_user(sales_clerk)}
    assert groups["customers.actions"].items[0]["overdue"] is True
    assert groups["customers.licences"].count == 1
    dashboard = web(sales_clerk).get(reverse("core:dashboard"))
    assert dashboard.status_code == 200 and "回访" in dashboard.content.decode()


def test_R_CU_1_navigation_entry_for_view_and_service_users(sales_clerk, technician, reviewer_finance):
    assert "customers" in [e["key"] for e in ui.nav.for_user(sales_clerk)]
    assert "customers_service" in [e["key"] for e in ui.nav.for_user(technician)]
    keys = [e["key"] for e in ui.nav.for_user(reviewer_finance)]
    assert "customers" not in keys and "customers_service" not in keys


# --- the generic permission contract (P7, R-IF-2) ------------------------------------------
class TestCustomerPermissions(RestrictedRecordContract):
    list_url_name = "customers:list"
    detail_url_name = "customers:detail"
    api_list_path = "/api/customers/"
    insider = "sales_clerk"
    outsider = "sales_clerk_other_dept"
    stranger = "reviewer_finance"  # holds no customers permission at all

    def make_record(self, owner):
        return create_customer_row(owner, name="合同评审客户 contract customer")

    def label(self, record):
        return record.code
