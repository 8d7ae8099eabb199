"""Demo company for ``qcare demo`` and ``scripts/start``: one or more users for every persona.

Idempotent: users are looked up by username; an existing user is never changed (its password
in particular), so re-running creates nothing twice and prints no password for old users.
"""

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from qcare.accounts.models import Department, Role, User
from qcare.accounts.seed import seed_org
from qcare.core.context import audit_context

# (username, full name, department code, role codes)
DEMO_USERS = [
    ("admin", "王建国", "gm_office", ["administrator"]),
    ("zhangwei", "张伟", "sales", ["sales_clerk"]),
    ("lina", "李娜", "sales", ["sales_clerk"]),
    ("wangfang", "王芳", "sales", ["sales_manager"]),
    ("liuyang", "刘洋", "production", ["reviewer_production"]),
    ("chenjing", "陈静", "purchasing", ["reviewer_purchasing"]),
    ("yangli", "杨丽", "quality", ["reviewer_quality"]),
    ("zhaolei", "赵磊", "rnd", ["reviewer_rnd"]),
    ("huangmin", "黄敏", "warehouse", ["reviewer_warehouse"]),
    ("zhoujie", "周杰", "finance", ["reviewer_finance"]),
    ("wuqiang", "吴强", "gm_office", ["deputy_gm"]),
    ("xuming", "徐明", "gm_office", ["gm"]),
    ("sunhui", "孙慧", "quality", ["quality_engineer"]),
    ("maqing", "马青", "quality", ["management_rep"]),
    ("zhuhong", "朱红", "service", ["dispatcher"]),
    ("huwei", "胡伟", "service", ["technician"]),
    ("guojun", "郭军", "service", ["technician"]),
    ("linxia", "林霞", "service", ["service_supervisor"]),
    ("hejing", "何静", "records", ["records_officer"]),
    ("gaoyan", "高燕", "gm_office", ["penalty_officer"]),
    ("auditor", "郑华", None, ["auditor"]),
]
#: External auditors get time-limited accounts.
AUDITOR_ACCESS_DAYS = 90


@dataclass
class DemoResult:
    """What ``create_demo_company`` did: every demo user, which ones are new, and their password."""

    rows: list  # (username, full name, roles, department, created)
    password: str | None


def demo_password():
    """QCARE_DEMO_PASSWORD, else a fresh random password for this run."""
    return os.environ.get("QCARE_DEMO_PASSWORD") or f"qc-{secrets.token_urlsafe(10)}"


def _create_user(username, full_name, department, roles, password):
    user = User(
        username=username, full_name=full_name, department=department, email=f"{username}@example.com"
    )
    user.set_password(password)
    if username == "admin":
        user.is_superuser = user.is_staff = True
    if "auditor" in roles:
        user.access_expires_at = timezone.now() + timedelta(days=AUDITOR_ACCESS_DAYS)
    user.save()
    user.roles.set(Role.objects.filter(code__in=roles))
    return user


def create_demo_company():
    """Seed the organisation and create the demo users that do not exist yet."""
    seed_org()
    password = demo_password()
    departments = {d.code: d for d in Department.objects.all()}
    rows, created_any = [], False
    with transaction.atomic(), audit_context(reason="qcare demo"):
        for username, full_name, dept_code, roles in DEMO_USERS:
            user = User.objects.filter(username=username).first()
            created = user is None
            if created:
                user = _create_user(username, full_name, departments.get(dept_code), roles, password)
                created_any = True
            role_names = ", ".join(str(r) for r in user.roles.all()) or "—"
            rows.append((user.username, user.full_name, role_names, str(user.department or "—"), created))
        _create_demo_records(password)
    return DemoResult(rows=rows, password=password if created_any else None)


def _create_demo_records(password):
    """Demo data of the installed domain apps (each creates only what is missing).

    Demo orders are reviewed and approved with real e-signatures, so they need the demo
    users' password (this run's, or QCARE_DEMO_PASSWORD on a re-run).
    """
    from django.apps import apps

    if apps.is_installed("qcare.customers"):
        from qcare.customers.demo import create_demo_customers

        create_demo_customers(User.objects.filter(username__in=[row[0] for row in DEMO_USERS]))
    if apps.is_installed("qcare.catalog"):
        from qcare.catalog.demo import create_demo_products

        create_demo_products()
    if apps.is_installed("qcare.orders"):
        from qcare.orders.demo import load_demo

        load_demo(password=password)
    if apps.is_installed("qcare.complaints"):
        from qcare.complaints.demo import load_demo as load_complaints_demo

        load_complaints_demo(password=password)
