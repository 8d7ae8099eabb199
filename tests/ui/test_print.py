"""Printable record page: fields, signatures with name/time/meaning, history; logged as an export."""

from django.urls import reverse

from qcare.audit.models import AuditEntry
from qcare.sample import services
from tests.personas import PERSONA_PASSWORD


def test_P4_printout_shows_signatures_history_and_is_logged(client, sales_clerk, sales_manager):
    record = services.create_sample(sales_clerk, title="外壳裂纹")
    services.update_sample(sales_clerk, record, data={"title": "外壳裂纹 第7批"}, reason="客户补充批号")
    services.approve_sample(sales_manager, record, password=PERSONA_PASSWORD)
    client.force_login(sales_manager)
    url = reverse("core:print", args=["sample", "samplerecord", record.pk])
    html = client.get(url).content.decode()
    assert record.number in html
    assert "王芳" in html  # the signer's printed full name
    assert "客户补充批号" in html  # the reason of the correction
    assert "外壳裂纹 第7批" in html
    assert AuditEntry.objects.filter(action="export", object_pk=str(record.pk), data__format="print").exists()


def test_P7_printout_outside_scope_is_404(client, sales_clerk, sales_clerk_2):
    record = services.create_sample(sales_clerk, title="别人的记录")
    client.force_login(sales_clerk_2)
    assert client.get(reverse("core:print", args=["sample", "samplerecord", record.pk])).status_code == 404
    assert client.get(reverse("core:print", args=["accounts", "nosuchmodel", 1])).status_code == 404
