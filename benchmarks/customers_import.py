"""Benchmark of the customer import (R-IF-4: 20,000 rows in under a minute).

``run(size)`` builds an xlsx of ``size`` rows in the template's Chinese columns (one customer
per two rows: two contacts each, a licence on the first row), then measures on the current
(benchmark) database: reading + validating the file, and the all-or-nothing commit (numbers,
bulk inserts, audit entries, search text, business event). Register in benchmarks/runner.py
as ``customers_import`` (see docs/customers-import-export.md).

Standalone: ``QCARE_DATA_DIR=/tmp/x .venv/bin/python -m benchmarks.customers_import 20000``
(uses whatever database the environment points at — migrate it first).
"""

import io
import sys
import time

DEFAULT_SIZE = 20_000


def build_file(size, owner_username):
    """An xlsx with ``size`` data rows (size // 2 customers, two contacts each)."""
    from openpyxl import Workbook

    from qcare.customers.importexport import COLUMNS

    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("客户")
    sheet.append([c.header("zh") for c in COLUMNS])
    for i in range(size):
        n = i // 2
        values = {
            "name": f"基准医疗器械有限公司{n:06d}",
            "customer_type": "经销商",
            "region": "浙江省杭州市",
            "address": f"杭州市滨江区江南大道{n}号",
            "tax_id": f"91330100BENCH{n:06d}",
            "relationship": "意向客户",
            "value_class": "一般客户",
            "owner": owner_username,
            "contact_name": f"联系人{i}",
            "contact_phone": "0571-88886666",
            "contact_mobile": f"138{i:08d}",
            "contact_email": f"c{i}@example.com",
        }
        if i % 2 == 0:
            values |= {
                "licence_kind": "医疗器械经营许可证",
                "licence_number": f"浙械{n}",
                "licence_valid_until": "2028-12-31",
            }
        sheet.append([values.get(c.key, "") for c in COLUMNS])
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def run(size=DEFAULT_SIZE, args=None):
    """Metrics of importing ``size`` rows (validation and commit timed separately)."""
    from benchmarks.generate import bench_user
    from qcare.customers import importexport
    from qcare.customers.models import Contact, Customer

    user = bench_user(permissions=("customers.import", "customers.view"))
    data = build_file(size, user.username)
    started = time.perf_counter()
    report = importexport.validate_file(user, data, "bench.xlsx")
    validate_seconds = time.perf_counter() - started
    assert not report.errors, report.errors[:5]
    contacts_before = Contact.objects.count()
    started = time.perf_counter()
    report = importexport.import_file(user, data, "bench.xlsx", mode="commit")
    commit_seconds = time.perf_counter() - started
    assert report.committed and Customer.objects.count() >= size // 2
    return {
        "rows": size,
        "customers": len(report.created),
        "contacts": Contact.objects.count() - contacts_before,
        "file_bytes": len(data),
        "validate_seconds": round(validate_seconds, 2),
        "commit_seconds_incl_validation": round(commit_seconds, 2),
        "rows_per_s": round(size / commit_seconds, 1),
    }


if __name__ == "__main__":
    import django

    django.setup()
    size = int(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SIZE
    for key, value in run(size).items():
        print(f"{key:32} {value}")
