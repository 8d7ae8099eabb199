"""Licences and the sales gate check_can_sell (R-CU-3)."""

from datetime import date

import pytest
from django.utils import translation

from qcare.catalog.models import ProductCategory
from qcare.core.errors import ReasonRequired, ValidationFailed
from qcare.customers import services
from qcare.customers.choices import LicenceKind, LicenceStatus

ON = date(2026, 6, 1)
NUMBER = "粤食药监械经营许20150123号"


@pytest.fixture
def distributor(sales_clerk, make_customer):
    return make_customer(sales_clerk, type_code="distributor", tax_id="91440101MA5C00001X", region="广东")


def licence(actor, customer, categories, **data):
    values = {"kind": LicenceKind.DEVICE_BUSINESS, "number": NUMBER, "valid_from": date(2021, 4, 1)}
    values.update(data)
    return services.add_licence(actor, customer, data=values, categories=categories)


def check(customer, categories, on_date=ON):
    with translation.override("en"):
        return services.check_can_sell(customer, categories, on_date)


def test_R_CU_3_check_can_sell_reasons(sales_clerk, distributor, category, make_customer):
    imaging, monitoring = category("06"), category("07")
    # No licence at all.
    result = check(distributor, [imaging])
    assert (result.allowed, result.reasons, result.licence) == (False, ["No valid licence on file"], None)

    # Expired on the date of the check.
    lic = licence(sales_clerk, distributor, [imaging], valid_until=date(2026, 3, 31))
    result = check(distributor, [imaging])
    assert not result.allowed
    assert result.reasons == [f"Licence {NUMBER} expired on 2026-03-31"]
    assert check(distributor, [imaging], on_date=date(2026, 3, 31)).allowed  # the last day counts

    # Renewed, but the scope does not cover 07.
    services.update_licence(sales_clerk, lic, data={"valid_until": date(2031, 3, 31)}, reason="换证")
    result = check(distributor, [imaging, monitoring])
    assert not result.allowed
    assert result.reasons == [f"Licence {NUMBER} does not cover 07 医用诊察和监护器械"]

    # A Class II filing covers 07: both licences together cover the order.
    filing = licence(
        sales_clerk,
        distributor,
        [monitoring],
        kind=LicenceKind.CLASS2_FILING,
        number="粤穗食药监械经营备20160456号",
        valid_until=None,
    )
    result = check(distributor, [imaging, monitoring])
    assert (result.allowed, result.reasons) == (True, [])
    assert result.licence in (lic, filing)

    # A hospital needs no licence; a non-regulated category needs none either.
    hospital = make_customer(sales_clerk, type_code="hospital")
    assert check(hospital, [imaging]).allowed
    accessory = ProductCategory.objects.create(code="X01", name="非医疗器械配件", is_regulated=False)
    other_distributor = make_customer(
        sales_clerk, type_code="distributor", tax_id="91440101MA5C00002X", region="广东"
    )
    assert check(other_distributor, [accessory]).allowed
    assert not check(other_distributor, [accessory, imaging]).allowed


def test_R_CU_3_only_active_trading_licences_count(sales_clerk, distributor, category):
    imaging = category("06")
    licence(sales_clerk, distributor, [imaging], kind=LicenceKind.OTHER, number="ISO 13485 证书")
    assert check(distributor, [imaging]).reasons == ["No valid licence on file"]
    revoked = licence(sales_clerk, distributor, [imaging], valid_until=None)
    assert check(distributor, [imaging]).allowed
    services.update_licence(sales_clerk, revoked, data={"is_active": False}, reason="吊销")
    assert not check(distributor, [imaging]).allowed
    future = licence(sales_clerk, distributor, [imaging], number="新证", valid_from=date(2026, 7, 1))
    assert check(distributor, [imaging]).reasons == ["Licence 新证 is valid only from 2026-07-01"]
    assert check(distributor, [imaging], on_date=date(2026, 7, 1)).licence == future


def test_R_CU_3_licence_status_and_customer_badge(sales_clerk, distributor, category, make_customer):
    assert services.customer_licence_status(distributor, ON) == LicenceStatus.MISSING
    assert services.customer_licence_status(make_customer(sales_clerk), ON) is None  # hospital
    lic = licence(sales_clerk, distributor, [category("06")], valid_until=date(2026, 7, 15))
    assert services.licence_status(lic, ON) == LicenceStatus.EXPIRING  # 44 days < 60-day policy
    assert services.licence_status(lic, date(2026, 5, 1)) == LicenceStatus.VALID  # 75 days
    assert services.licence_status(lic, date(2026, 7, 16)) == LicenceStatus.EXPIRED
    assert services.licence_status(lic, date(2021, 3, 1)) == LicenceStatus.NOT_YET_VALID
    assert services.customer_licence_status(distributor, ON) == LicenceStatus.EXPIRING
    licence(sales_clerk, distributor, [category("06")], number="另一证", valid_until=None)
    distributor = type(distributor).objects.get(pk=distributor.pk)
    assert services.customer_licence_status(distributor, ON) == LicenceStatus.VALID


def test_R_CU_3_licence_validation_and_controlled_update(sales_clerk, distributor, category):
    with pytest.raises(ValidationFailed) as bad:
        services.add_licence(
            sales_clerk,
            distributor,
            data={
                "kind": "permit",
                "number": " ",
                "valid_from": date(2026, 1, 1),
                "valid_until": date(2025, 1, 1),
            },
        )
    assert set(bad.value.errors) == {"kind", "number", "valid_until"}
    lic = licence(sales_clerk, distributor, [category("06")])
    with pytest.raises(ValidationFailed) as duplicate:
        licence(sales_clerk, distributor, [])
    assert list(duplicate.value.errors) == ["number"]
    with pytest.raises(ReasonRequired):
        services.update_licence(sales_clerk, lic, data={"authority": "广州市市场监督管理局"}, reason="")
    services.update_licence(
        sales_clerk, lic, data={}, categories=[category("06"), category("07")], reason="扩大范围"
    )
    assert {c.code for c in lic.categories.all()} == {"06", "07"}
