"""Services of the customer file: customers, contacts, log, follow-ups, property (R-CU-1, 2, 4, 5)."""

import re
import threading
from datetime import date, timedelta

import pytest
from django.db import connection
from django.utils import timezone, translation

from qcare.audit.models import AuditEntry
from qcare.core.errors import Conflict, NotFound, NotPermitted, ReasonRequired, ValidationFailed
from qcare.customers import services
from qcare.customers.choices import (
    ActionStatus,
    CommunicationKind,
    IncidentKind,
    PropertyKind,
    PropertyStatus,
)
from qcare.customers.models import Contact, Customer, FollowUpAction
from qcare.notifications.models import Notification
from tests.audit.generic import AuditedModelContract
from tests.customers.conftest import create_customer_row
from tests.personas import make_persona


def distributor_data(customer_type, **extra):
    return {
        "name": "广州康瑞医疗器械有限公司",
        "short_name": "康瑞医疗",
        "customer_type": customer_type("distributor"),
        "tax_id": "91440101MA5CXXXX1A",
        "region": "广东省广州市",
        **extra,
    }


def errors_of(excinfo):
    return excinfo.value.errors


def notified(template, user=None, **filters):
    qs = Notification.objects.filter(template=template, **filters)
    if user is not None:
        qs = qs.filter(recipient=user)
    return qs


# --- R-CU-1 ------------------------------------------------------------------------------------
def test_R_CU_1_create_numbered_validates_tax_id_unique_and_required_by_type(sales_clerk, customer_type):
    with pytest.raises(ValidationFailed) as missing:
        services.create_customer(
            sales_clerk, data={"name": "某经销商", "customer_type": customer_type("distributor")}
        )
    assert set(errors_of(missing)) == {"tax_id", "region"}
    # A hospital needs neither.
    hospital = services.create_customer(
        sales_clerk, data={"name": "广州市第一人民医院", "customer_type": customer_type("hospital")}
    )
    assert hospital.tax_id is None

    customer = services.create_customer(sales_clerk, data=distributor_data(customer_type))
    assert re.fullmatch(r"C\d{5}", customer.code)
    assert customer.code != hospital.code
    assert customer.owner == sales_clerk
    assert customer.department == sales_clerk.department

    before = Customer.objects.count()
    with translation.override("en"), pytest.raises(ValidationFailed) as duplicate:
        services.create_customer(sales_clerk, data=distributor_data(customer_type, name="另一家公司"))
    assert errors_of(duplicate) == {"tax_id": ["A customer with this tax id already exists."]}
    # Lower-case input is the same tax id.
    with pytest.raises(ValidationFailed):
        services.create_customer(
            sales_clerk, data=distributor_data(customer_type, tax_id="91440101ma5cxxxx1a")
        )
    assert Customer.objects.count() == before


def test_R_CU_1_foreign_customer_needs_foreign_country(sales_clerk, customer_type):
    with pytest.raises(ValidationFailed) as cn:
        services.create_customer(
            sales_clerk,
            data={
                "name": "MedTech Handels GmbH",
                "customer_type": customer_type("hospital"),
                "is_foreign": True,
            },
        )
    assert "country" in errors_of(cn)
    with pytest.raises(ValidationFailed) as unmarked:
        services.create_customer(
            sales_clerk, data={"name": "MedTech", "customer_type": customer_type("hospital"), "country": "DE"}
        )
    assert "is_foreign" in errors_of(unmarked)
    foreign = services.create_customer(
        sales_clerk,
        data={
            "name": "MedTech Handels GmbH",
            "customer_type": customer_type("distributor"),
            "is_foreign": True,
            "country": "de",
            "region": "Bayern",
        },
    )
    assert foreign.country == "DE"  # a foreign distributor has no Chinese tax id


def test_R_CU_1_tax_id_race_reported_on_the_field(sales_clerk, customer_type, monkeypatch):
    """The unique index catches what the check cannot see (a concurrent create)."""
    services.create_customer(sales_clerk, data=distributor_data(customer_type))
    original = services._clean_customer

    def without_uniqueness_check(values, errors, **kwargs):
        original(values, errors, **kwargs)
        errors.pop("tax_id", None)  # as if the other transaction had not committed yet

    monkeypatch.setattr(services, "_clean_customer", without_uniqueness_check)
    with pytest.raises(ValidationFailed) as race:
        services.create_customer(sales_clerk, data=distributor_data(customer_type, name="并发公司"))
    assert list(errors_of(race)) == ["tax_id"]
    assert Customer.objects.filter(name="并发公司").count() == 0


@pytest.mark.django_db(transaction=True)
def test_R_CU_1_concurrent_creates_with_same_tax_id_one_wins(customer_type):
    clerk = make_persona("sales_clerk")
    data = distributor_data(customer_type)
    results, barrier = [], threading.Barrier(2)

    def create(name):
        barrier.wait()
        try:
            services.create_customer(clerk, data={**data, "name": name})
            results.append("ok")
        except ValidationFailed as exc:
            results.append(sorted(exc.errors))
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(f"公司{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results, key=str) == sorted(["ok", ["tax_id"]], key=str)
    assert Customer.objects.filter(tax_id=data["tax_id"]).count() == 1


def test_R_CU_1_contacts_phone_and_email_formats(sales_clerk, customer_type):
    with pytest.raises(ValidationFailed) as bad:
        services.create_customer(
            sales_clerk,
            data={"name": "深圳市人民医院", "customer_type": customer_type("hospital")},
            contacts=[
                {"name": "李主任", "phone": "call me", "email": "li@"},
                {"name": "", "mobile": "12345"},
            ],
        )
    assert set(errors_of(bad)) == {
        "contacts.0.phone",
        "contacts.0.email",
        "contacts.1.name",
        "contacts.1.mobile",
    }
    assert not Customer.objects.filter(name="深圳市人民医院").exists()


@pytest.mark.parametrize(
    ("phone", "valid"),
    [
        ("13800000001", True),
        ("+86 (20) 8888-1234", True),
        ("020-88881234 ext 12", True),
        ("020-88881234转806", True),
        ("12345", False),
        ("1" * 21, False),
        ("138-0000-000a", False),
    ],
)
def test_R_CU_1_phone_format(phone, valid):
    assert services.phone_is_valid(phone) is valid


def test_R_CU_1_update_needs_reason_and_checks_version(sales_clerk, make_customer):
    customer = make_customer(sales_clerk)
    with pytest.raises(ReasonRequired):
        services.update_customer(sales_clerk, customer, data={"short_name": "一院"}, reason="")
    with pytest.raises(Conflict):
        services.update_customer(
            sales_clerk,
            customer,
            data={"short_name": "一院"},
            reason="更正",
            expected_version=customer.version + 1,
        )
    services.update_customer(sales_clerk, customer, data={"short_name": "一院"}, reason="更正简称")
    customer.refresh_from_db()
    assert customer.short_name == "一院"
    assert "一院" in customer.search_text
    with pytest.raises(ValidationFailed):
        services.update_customer(sales_clerk, customer, data={"code": "C99999"}, reason="x")


def test_R_CU_1_reassign_needs_reason_and_permission(
    sales_clerk, sales_clerk_2, sales_manager, make_customer
):
    customer = make_customer(sales_clerk)
    with pytest.raises(NotPermitted):
        services.reassign_customer(sales_clerk, customer, new_owner=sales_clerk_2, reason="交接")
    with pytest.raises(ReasonRequired):
        services.reassign_customer(sales_manager, customer, new_owner=sales_clerk_2, reason=" ")
    services.reassign_customer(sales_manager, customer, new_owner=sales_clerk_2, reason="张伟离职，客户交接")
    customer.refresh_from_db()
    assert customer.owner == sales_clerk_2
    assert customer.department == sales_clerk_2.department
    for user in (sales_clerk, sales_clerk_2):
        assert notified("customers/reassigned", user, channel="inbox").count() == 1
    # The manager acted and is not told about it.
    assert not notified("customers/reassigned", sales_manager).exists()
    entry = AuditEntry.objects.filter(object_pk=str(customer.pk), action="update").last()
    assert entry.reason == "张伟离职，客户交接"
    assert "owner" in entry.changes


def test_R_CU_1_reassign_notifies_new_owners_manager(
    sales_clerk, sales_clerk_other_dept, administrator, make_customer, org
):
    from tests.factories import UserFactory

    manager = UserFactory(roles=["sales_manager"], department=org["service"])
    customer = make_customer(sales_clerk)
    services.reassign_customer(administrator, customer, new_owner=sales_clerk_other_dept, reason="区域调整")
    assert notified("customers/reassigned", manager, channel="inbox").count() == 1


def test_R_CU_1_deactivate_needs_reason_and_delete_permission(sales_clerk, administrator, make_customer):
    customer = make_customer(sales_clerk)
    with pytest.raises(NotPermitted):
        services.deactivate_customer(sales_clerk, customer, reason="不再合作")
    with pytest.raises(ReasonRequired):
        services.deactivate_customer(administrator, customer, reason="")
    services.deactivate_customer(administrator, customer, reason="不再合作")
    customer.refresh_from_db()
    assert not customer.is_active
    with pytest.raises(Conflict):
        services.deactivate_customer(administrator, customer, reason="again")


# --- R-CU-2 ------------------------------------------------------------------------------------
def primaries(customer):
    return list(Contact.objects.filter(customer=customer, is_primary=True).values_list("name", flat=True))


def test_R_CU_2_one_primary_contact(sales_clerk, customer_type):
    customer = services.create_customer(
        sales_clerk,
        data={"name": "广州市第一人民医院", "customer_type": customer_type("hospital")},
        contacts=[{"name": "陈主任", "phone": "020-81048888"}, {"name": "王护士长", "mobile": "13800000002"}],
    )
    assert primaries(customer) == ["陈主任"]
    added = services.add_contact(sales_clerk, customer, data={"name": "刘科长", "is_primary": False})
    assert not added.is_primary and primaries(customer) == ["陈主任"]

    services.add_contact(sales_clerk, customer, data={"name": "赵院长", "is_primary": True})
    assert primaries(customer) == ["赵院长"]
    wang = Contact.objects.get(customer=customer, name="王护士长")
    services.update_contact(sales_clerk, wang, data={"is_primary": True}, reason="王护士长负责采购")
    assert primaries(customer) == ["王护士长"]

    wang.refresh_from_db()
    with pytest.raises(ValidationFailed) as unset:
        services.update_contact(sales_clerk, wang, data={"is_primary": False}, reason="x")
    assert "is_primary" in unset.value.errors
    services.deactivate_contact(sales_clerk, wang, reason="已离职")
    assert len(primaries(customer)) == 1 and primaries(customer) != ["王护士长"]


def test_R_CU_2_first_contact_of_a_customer_without_contacts_becomes_primary(sales_clerk, make_customer):
    customer = make_customer(sales_clerk)
    contact = services.add_contact(
        sales_clerk, customer, data={"name": "孙经理", "email": "sun@example.com", "preferred_language": "en"}
    )
    assert contact.is_primary
    customer.refresh_from_db()
    assert "孙经理" in customer.search_text


def test_R_CU_2_contact_changes_are_scoped(sales_clerk, sales_clerk_2, make_customer):
    customer = make_customer(sales_clerk, contacts=[{"name": "甲"}])
    with pytest.raises(NotFound):
        services.add_contact(sales_clerk_2, customer, data={"name": "乙"})
    with pytest.raises(NotFound):
        services.update_contact(sales_clerk_2, customer.contacts.get(), data={"name": "丙"}, reason="x")


# --- R-CU-4 ------------------------------------------------------------------------------------
def test_R_CU_4_plant_visit_notifies_departments_and_creates_follow_ups(
    sales_clerk, quality_engineer, reviewer_production, technician, make_customer, org
):
    customer = make_customer(sales_clerk, contacts=[{"name": "陈主任"}])
    due = timezone.localdate() + timedelta(days=14)
    entry = services.log_communication(
        sales_clerk,
        customer,
        data={
            "kind": CommunicationKind.PLANT_VISIT,
            "subject": "参观无菌车间和灭菌过程",
            "attendees": "陈主任、设备科李工",
            "customer_opinions": "希望提供灭菌验证报告",
            "contact": customer.contacts.get(),
        },
        notified_departments=[org["quality"], org["production"]],
        follow_ups=[{"description": "提供灭菌验证报告", "owner": quality_engineer, "due_date": due}],
    )
    assert set(entry.notified_departments.all()) == {org["quality"], org["production"]}
    for user in (quality_engineer, reviewer_production):
        notice = notified("customers/visit_notice", user, channel="inbox").get()
        assert "参观无菌车间和灭菌过程" in notice.body and "陈主任、设备科李工" in notice.body
    assert not notified("customers/visit_notice", technician).exists()  # service dept not chosen

    action = FollowUpAction.objects.get(communication=entry)
    assert (action.owner, action.due_date, action.status) == (quality_engineer, due, ActionStatus.OPEN)
    assert notified("customers/follow_up", quality_engineer, channel="inbox").count() == 1


def test_R_CU_4_only_visits_notify_departments_and_bad_follow_up_writes_nothing(
    sales_clerk, make_customer, org
):
    customer = make_customer(sales_clerk)
    with pytest.raises(ValidationFailed) as call:
        services.log_communication(
            sales_clerk,
            customer,
            data={"kind": CommunicationKind.CALL, "subject": "询价"},
            notified_departments=[org["quality"]],
            follow_ups=[{"description": "", "owner": sales_clerk, "due_date": None}],
        )
    assert set(call.value.errors) == {
        "notified_departments",
        "follow_ups.0.description",
        "follow_ups.0.due_date",
    }
    assert customer.communications.count() == 0


def test_R_CU_4_follow_up_complete_and_cancel(sales_clerk, quality_engineer, make_customer):
    customer = make_customer(sales_clerk)
    due = timezone.localdate() + timedelta(days=7)
    first = services.add_follow_up(
        sales_clerk, customer, description="回访", owner=quality_engineer, due_date=due
    )
    # The responsible person closes their action without customers.change.
    services.complete_follow_up(quality_engineer, first, result="已发送报告")
    assert first.status == ActionStatus.DONE and first.done_at is not None
    with pytest.raises(Conflict):
        services.complete_follow_up(quality_engineer, first)

    second = services.add_follow_up(
        sales_clerk, customer, description="寄样品", owner=sales_clerk, due_date=due
    )
    assert not notified("customers/follow_up", sales_clerk).exists()  # one's own action: no notice
    with pytest.raises(ReasonRequired):
        services.cancel_follow_up(sales_clerk, second, reason="")
    services.cancel_follow_up(sales_clerk, second, reason="客户取消需求")
    second.refresh_from_db()
    assert (second.status, second.result) == (ActionStatus.CANCELLED, "客户取消需求")


# --- R-CU-5 ------------------------------------------------------------------------------------
def test_R_CU_5_property_incident_notifies_contact_in_their_language(sales_clerk, make_customer):
    customer = make_customer(
        sales_clerk,
        contacts=[
            {"name": "Anna Becker", "email": "anna@example.de", "preferred_language": "en"},
            {"name": "周工", "email": "zhou@example.cn"},
        ],
        preferred_language="zh-hans",
    )
    mould = services.register_property(
        sales_clerk,
        customer,
        data={"kind": PropertyKind.TOOLING, "name": "外壳注塑模具", "identification": "M-2024-07"},
    )
    anna = customer.contacts.get(name="Anna Becker")
    incident = services.report_property_incident(
        sales_clerk,
        mould,
        kind=IncidentKind.DAMAGE,
        occurred_on=timezone.localdate(),
        description="Cavity 2 cracked during maintenance.",
        notify_contact=anna,
    )
    mould.refresh_from_db()
    assert mould.status == PropertyStatus.DAMAGED
    assert incident.customer_notified_at is not None and incident.notified_contact == anna
    mail = Notification.objects.get(template="customers/property_incident")
    assert (mail.recipient_email, mail.language, mail.channel, mail.recipient) == (
        "anna@example.de",
        "en",
        "email",
        None,
    )
    assert "外壳注塑模具" in mail.body and "Cavity 2 cracked" in mail.body
    assert notified("customers/property_incident_internal", sales_clerk, channel="inbox").exists()

    # A contact without a language gets the customer's language.
    services.report_property_incident(
        sales_clerk,
        mould,
        kind=IncidentKind.LOSS,
        occurred_on=timezone.localdate(),
        description="模具在搬运中遗失",
        notify_contact=customer.contacts.get(name="周工"),
    )
    assert Notification.objects.get(recipient_email="zhou@example.cn").language == "zh-hans"
    mould.refresh_from_db()
    assert mould.status == PropertyStatus.LOST
    assert mould.incidents.count() == 2


def test_R_CU_5_incident_validation(sales_clerk, make_customer):
    customer = make_customer(sales_clerk, contacts=[{"name": "无邮箱"}])
    other = make_customer(sales_clerk, contacts=[{"name": "别家", "email": "x@example.com"}])
    prop = services.register_property(
        sales_clerk, customer, data={"kind": PropertyKind.DRAWING, "name": "图纸"}
    )
    with pytest.raises(ValidationFailed) as bad:
        services.report_property_incident(
            sales_clerk,
            prop,
            kind="stolen",
            occurred_on=date.today() + timedelta(days=5),
            description="",
            notify_contact=other.contacts.get(),
        )
    assert set(bad.value.errors) == {"kind", "occurred_on", "description", "notify_contact"}
    with pytest.raises(ValidationFailed) as no_mail:
        services.report_property_incident(
            sales_clerk,
            prop,
            kind=IncidentKind.LOSS,
            occurred_on=timezone.localdate(),
            description="遗失",
            notify_contact=customer.contacts.get(),
        )
    assert list(no_mail.value.errors) == ["notify_contact"]
    prop.refresh_from_db()
    assert prop.status == PropertyStatus.IN_CUSTODY and prop.incidents.count() == 0


def test_R_CU_5_property_update_is_controlled(sales_clerk, make_customer):
    prop = services.register_property(
        sales_clerk, make_customer(sales_clerk), data={"kind": PropertyKind.SAMPLE, "name": "样品"}
    )
    with pytest.raises(ReasonRequired):
        services.update_property(sales_clerk, prop, data={"location": "B2 仓"}, reason="")
    services.update_property(sales_clerk, prop, data={"location": "B2 仓"}, reason="移库")
    prop.refresh_from_db()
    assert prop.location == "B2 仓"


def test_P7_portal_link_needs_portal_role_and_reassign_permission(
    sales_clerk, sales_manager, make_customer, make_portal_user
):
    from tests.factories import UserFactory

    customer = make_customer(sales_clerk)
    portal = UserFactory(roles=["portal_customer"], department=None)
    with pytest.raises(NotPermitted):
        services.link_portal_user(sales_clerk, portal, customer)
    with pytest.raises(ValidationFailed):
        services.link_portal_user(sales_manager, sales_clerk, customer)
    link = services.link_portal_user(sales_manager, portal, customer)
    assert link.customer == customer


# --- audit contracts (P3) -----------------------------------------------------------------------
class TestCustomerAudit(AuditedModelContract):
    def make_object(self):
        return create_customer_row(make_persona("sales_clerk"), name="审计测试客户")

    def edit_object(self, obj):
        obj.name = "审计测试客户（更名）"
        return "name"


class TestContactAudit(AuditedModelContract):
    def make_object(self):
        customer = create_customer_row(make_persona("sales_clerk"))
        return customer.contacts.create(name="审计联系人", phone="020-12345678")

    def edit_object(self, obj):
        obj.phone = "020-87654321"
        return "phone"


# --- demo data ----------------------------------------------------------------------------------
def test_R_CU_demo_customers_are_realistic_and_idempotent(sales_clerk, sales_clerk_2, quality_engineer):
    from qcare.customers import jobs
    from qcare.customers.demo import create_demo_customers
    from qcare.customers.models import Licence

    users = [sales_clerk, sales_clerk_2, quality_engineer]
    assert create_demo_customers(users) == 36
    assert create_demo_customers(users) == 0
    assert Customer.objects.count() == 36
    assert set(Customer.objects.values_list("owner", flat=True)) == {sales_clerk.pk, sales_clerk_2.pk}
    statuses = sorted(str(services.licence_status(lic)) for lic in jobs.list_expiring_licences())
    assert statuses == ["expired", "expiring", "expiring"]
    assert Licence.objects.count() == 19
    assert Customer.objects.filter(is_foreign=True, preferred_language="en").count() == 2
    assert notified("customers/visit_notice", quality_engineer).exists()
