"""Anonymisation on request (R-CU-6): personal data replaced, references survive, signed and audited."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.utils import timezone

from qcare.audit.models import AuditEntry
from qcare.core import signatures
from qcare.core.errors import Conflict, NotPermitted, ReasonRequired
from qcare.customers import services
from qcare.customers.choices import CommunicationKind, IncidentKind, PropertyKind
from qcare.customers.models import Communication, Contact, Customer, CustomerAnonymisation, PropertyIncident
from tests.personas import PERSONA_PASSWORD


@pytest.fixture
def customer(sales_clerk, make_customer):
    customer = make_customer(
        sales_clerk,
        name="深圳市人民医院",
        short_name="深圳人医",
        address="深圳市罗湖区东门北路1017号",
        tax_id="12440300455755047X",
        notes="院长喜欢周二上午拜访",
        contacts=[
            {
                "name": "黄主任",
                "phone": "0755-25533018",
                "mobile": "13800000003",
                "email": "huang@example.cn",
                "personal_email": "huang.private@example.com",
                "id_number": "440301198001011234",
                "notes": "私人手机勿外传",
            },
            {"name": "林工", "mobile": "13800000004"},
        ],
    )
    services.refresh_search(customer)
    return customer


def test_R_CU_6_anonymise_signed_audited_and_references_survive(sales_clerk, administrator, customer):
    contact = customer.contacts.get(name="黄主任")
    entry = services.log_communication(
        sales_clerk,
        customer,
        data={"kind": CommunicationKind.CALL, "subject": "询问售后", "contact": contact},
    )
    prop = services.register_property(
        sales_clerk, customer, data={"kind": PropertyKind.PERSONAL_DATA, "name": "患者名单"}
    )
    services.report_property_incident(
        sales_clerk,
        prop,
        kind=IncidentKind.UNSUITABLE,
        occurred_on=timezone.localdate(),
        description="格式不符",
    )

    record = services.anonymise_customer(
        administrator,
        customer,
        password=PERSONA_PASSWORD,
        request_reference="客户来函 2026-011",
        reason="客户要求删除个人信息",
    )

    customer = Customer.objects.get(pk=customer.pk)
    assert customer.name == customer.short_name == f"已匿名客户 {customer.code}"
    assert (customer.address, customer.tax_id, customer.notes) == ("", None, "")
    assert customer.anonymised_at is not None
    assert "深圳" not in customer.search_text and "黄主任" not in customer.search_text
    for person in Contact.objects.filter(customer=customer):
        assert person.name == f"已匿名 #{person.pk}"
        assert [
            person.phone,
            person.mobile,
            person.email,
            person.personal_email,
            person.id_number,
            person.notes,
        ] == [""] * 6
    # Everything that referenced the customer and its contacts still does.
    assert Communication.objects.get(pk=entry.pk).contact_id == contact.pk
    assert PropertyIncident.objects.filter(property__customer=customer).count() == 1

    # Signed with the meaning "approved", valid; the changes carry the reason.
    (signature,) = signatures.signatures_for(record)
    assert signature.meaning == "approved" and signature.is_valid
    assert record.performed_by == administrator and record.request_reference == "客户来函 2026-011"
    update = AuditEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Customer), object_pk=str(customer.pk), action="update"
    ).last()
    assert update.reason == "客户要求删除个人信息" and update.actor_id == administrator.pk
    assert "name" in update.changes

    with pytest.raises(Conflict):
        services.anonymise_customer(
            administrator, customer, password=PERSONA_PASSWORD, request_reference="again", reason="again"
        )


def test_R_CU_6_anonymise_needs_permission_reason_and_password(sales_clerk, administrator, customer):
    kwargs = {"request_reference": "来函", "reason": "客户要求"}
    with pytest.raises(NotPermitted):
        services.anonymise_customer(sales_clerk, customer, password=PERSONA_PASSWORD, **kwargs)
    with pytest.raises(ReasonRequired):
        services.anonymise_customer(
            administrator, customer, password=PERSONA_PASSWORD, request_reference="来函", reason=""
        )
    with pytest.raises(signatures.SignatureRefused):
        services.anonymise_customer(administrator, customer, password="wrong-password", **kwargs)
    # Nothing changed, no anonymisation record, but the failed attempt was counted.
    customer.refresh_from_db()
    assert customer.name == "深圳市人民医院" and customer.anonymised_at is None
    assert not CustomerAnonymisation.objects.exists()
    administrator.refresh_from_db()
    assert administrator.signing_failures == 1
