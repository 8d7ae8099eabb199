"""The medical-device sales record (R-OR-10) exported as xlsx: every field, header row in the
current language, only rows within the export scope, logged as an export event."""

import io
from datetime import timedelta

import pytest
from django.utils import timezone, translation
from openpyxl import load_workbook

from qcare.audit.models import AuditEntry
from qcare.core.errors import NotPermitted
from qcare.orders import exports
from tests.orders.test_fulfil import approved_order, ship

R_OR_10_HEADERS_ZH = [
    "销售日期",
    "器械名称",
    "型号规格",
    "注册证/备案编号",
    "数量",
    "单位",
    "单价",
    "金额",
    "币种",
    "批号",
    "序列号",
    "有效期",
    "生产企业",
    "生产许可证/备案编号",
    "购货单位",
    "购货单位许可证号",
    "联系人",
    "电话",
    "地址",
    "订单编号",
    "出货单号",
]


def sheet_rows(content):
    sheet = load_workbook(io.BytesIO(content)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def shipped(sales_clerk, reviewer_warehouse, distributor, device, accessory):
    order = approved_order(sales_clerk, distributor, [(device, 3, "2500"), (accessory, 2, "20")])
    expiry = timezone.localdate() + timedelta(days=365)
    shipment = ship(
        reviewer_warehouse,
        order,
        {"order_line": 1, "quantity": 2, "lot_number": "L2501", "expiry_date": expiry},
        {"order_line": 1, "quantity": 1, "serial_number": "SN-77"},
        {"order_line": 2, "quantity": 2},
    )
    return order, shipment, expiry


def test_R_OR_10_sales_record_export_has_every_field(shipped, sales_clerk):
    order, shipment, expiry = shipped
    with translation.override("en"):
        headers_en = exports.sales_record_headers()
        content, count = exports.export_sales_records(sales_clerk, lot="L2501")
    assert count == 1
    rows = sheet_rows(content)
    assert rows[0] == headers_en
    assert headers_en[:3] == ["Sale date", "Device name", "Model / specification"]
    record = dict(zip(headers_en, rows[1], strict=True))
    assert record["Device name"] == "多参数监护仪"
    assert record["Registration / filing number"] == "粤械注准20182070101"
    assert record["Quantity"] == 2 and record["Unit price"] == 2500 and record["Amount"] == 5000
    assert record["Lot number"] == "L2501" and record["Serial number"] in (None, "")
    assert record["Expiry date"].date() == expiry
    assert record["Manufacturer"] == "深圳康禾医疗科技有限公司"
    assert record["Manufacturing licence / filing number"] == "粤食药监械生产许20160088号"
    assert record["Buyer"] == "广州康达医疗器械有限公司"
    assert record["Buyer's licence number"] == "粤穗食药监械经营许20190123号"
    assert (record["Contact"], record["Phone"]) == ("陈经理", "020-88886666")
    assert record["Address"] == "广州市天河区体育西路 1 号"
    assert (record["Order number"], record["Shipment number"]) == (order.number, shipment.number)


def test_R_OR_10_export_header_in_chinese_and_audited(shipped, sales_clerk):
    before = AuditEntry.objects.filter(action="export").count()
    with translation.override("zh-hans"):
        content, count = exports.export_sales_records(sales_clerk)
    assert count == 2  # two lines of the medical device; the accessory has no sales record
    rows = sheet_rows(content)
    assert rows[0] == R_OR_10_HEADERS_ZH
    assert {row[10] for row in rows[1:]} == {"SN-77", None}
    entries = AuditEntry.objects.filter(action="export")
    assert entries.count() == before + 1
    entry = entries.latest("pk")
    assert entry.actor_id == sales_clerk.pk
    assert entry.data == {"model": "orders.salesrecord", "filters": {}, "count": 2}


def test_R_OR_10_export_needs_permission_and_respects_scope(shipped, sales_clerk_2, reviewer_warehouse, gm):
    with pytest.raises(NotPermitted):  # the warehouse ships but does not export
        exports.export_sales_records(reviewer_warehouse)
    _content, count = exports.export_sales_records(sales_clerk_2)
    assert count == 0  # another clerk's order
    _content, count = exports.export_sales_records(
        gm, date_to=timezone.localdate(), customer=shipped[0].customer
    )
    assert count == 2
    entry = AuditEntry.objects.filter(action="export").latest("pk")
    assert entry.data["filters"] == {
        "date_to": timezone.localdate().isoformat(),
        "customer": str(shipped[0].customer_id),
    }
