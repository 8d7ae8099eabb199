"""The sample record's services: the reference pattern every domain service follows."""

import pytest

from qcare.core.errors import Conflict, NotFound, NotPermitted, ReasonRequired
from qcare.sample import services
from qcare.sample.models import SampleRecord, SampleStatus
from tests.personas import PERSONA_PASSWORD


def test_P7_clerk_without_approve_permission_cannot_approve(sales_clerk):
    record = services.create_sample(sales_clerk, title="壳体裂纹")
    with pytest.raises(NotPermitted):
        services.approve_sample(sales_clerk, record, password=PERSONA_PASSWORD)


def test_P7_manager_of_other_department_gets_404(sales_clerk_other_dept, sales_manager):
    record = services.create_sample(sales_clerk_other_dept, title="外部门记录")
    with pytest.raises(NotFound):
        services.update_sample(sales_manager, record, data={"title": "x"}, reason="r")


def test_P3_delete_needs_reason_and_approved_record_cannot_be_deleted(
    sales_clerk, sales_manager, administrator
):
    record = services.create_sample(sales_clerk, title="待删除")
    with pytest.raises(ReasonRequired):
        services.delete_sample(administrator, record, reason="")
    assert SampleRecord.objects.filter(pk=record.pk).exists()

    services.approve_sample(sales_manager, record, password=PERSONA_PASSWORD)
    record.refresh_from_db()
    assert record.status == SampleStatus.APPROVED
    with pytest.raises(Conflict):
        services.delete_sample(administrator, record, reason="清理")
    assert SampleRecord.objects.filter(pk=record.pk).exists()
