"""Fast generation of benchmark data: departments, users and sample records.

Uses ``bulk_create`` (one INSERT per batch, no per-row audit) because the point is to
build volume quickly; the audit trail's own bulk path (``qcare.audit.chain``) builds valid
audit chains. Passwords are one precomputed hash shared by all generated users.
"""

import random
import time
from decimal import Decimal

from django.contrib.auth.hashers import make_password
from django.db import transaction

BENCH_PASSWORD = "bench-password-不要用于生产"  # noqa: S105  (benchmark database only)
STATUSES = ("draft", "submitted", "approved")


def progress(label, done, total, started):
    rate = done / (time.perf_counter() - started + 1e-9)
    print(f"  {label}: {done:,}/{total:,} ({rate:,.0f}/s)", flush=True)


def bench_user(username="bench", permissions=("sample.view", "sample.add", "sample.change")):
    """A user in the quality department holding ``permissions`` with scope "all"."""
    from qcare.accounts.models import Department, Role, RolePermission, User

    department, _ = Department.objects.get_or_create(code="quality", defaults={"name": "品质部"})
    role, _ = Role.objects.get_or_create(code="bench", defaults={"name": "基准测试"})
    for permission in permissions:
        RolePermission.objects.get_or_create(role=role, permission=permission, defaults={"scope": "all"})
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": "测试",
            "last_name": "基准",
            "department": department,
            "email": "bench@example.invalid",
        },
    )
    if created:
        user.password = make_password(BENCH_PASSWORD)
        user.save(update_fields=["password"])
    user.roles.add(role)
    return user


def users(count, *, batch=1000):
    """``count`` plain users spread over the seeded departments."""
    from qcare.accounts.models import Department, User

    departments = list(Department.objects.all()) or [None]
    password = make_password(BENCH_PASSWORD)
    rows = [
        User(
            username=f"user{i:06d}",
            first_name=f"员工{i}",
            last_name="张",
            password=password,
            department=departments[i % len(departments)],
        )
        for i in range(count)
    ]
    User.objects.bulk_create(rows, batch_size=batch)
    return count


def sample_records(count, owners, *, batch=5000, seed=42):
    """``count`` SampleRecords with realistic titles, statuses and amounts, bulk inserted."""
    from qcare.sample.models import SampleRecord

    rng = random.Random(seed)
    started = time.perf_counter()
    made = 0
    while made < count:
        size = min(batch, count - made)
        rows = []
        for i in range(made, made + size):
            owner = owners[i % len(owners)]
            rows.append(
                SampleRecord(
                    number=f"GEN{i:09d}",
                    title=f"样品记录 {i} / sample record {i}",
                    description="基准测试数据",
                    amount=Decimal(rng.randint(0, 10_000_000)) / 100,
                    status=STATUSES[rng.randrange(len(STATUSES))],
                    owner=owner,
                    department_id=owner.department_id,
                )
            )
        with transaction.atomic():
            SampleRecord.objects.bulk_create(rows)
        made += size
        if made % (batch * 10) == 0 or made == count:
            progress("sample records", made, count, started)
    return made
