"""The org chart as pytest fixtures: one user per persona, built on the seeded roles.

Use them by name (``def test_x(sales_clerk, gm): …``). Every persona's password is
``PERSONA_PASSWORD``. Enable in a conftest with ``pytest_plugins = ["tests.personas"]``.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from qcare.accounts.models import Department
from qcare.accounts.seed import seed_org
from tests.factories import DEFAULT_PASSWORD, UserFactory

PERSONA_PASSWORD = DEFAULT_PASSWORD

# fixture name -> (username, full name, department code, role codes)
PERSONAS = {
    "sales_clerk": ("zhangwei", "张伟", "sales", ["sales_clerk"]),
    "sales_clerk_2": ("lina", "李娜", "sales", ["sales_clerk"]),
    "sales_clerk_other_dept": ("zhoumin", "周敏", "service", ["sales_clerk"]),
    "sales_manager": ("wangfang", "王芳", "sales", ["sales_manager"]),
    "reviewer_production": ("liuyang", "刘洋", "production", ["reviewer_production"]),
    "reviewer_purchasing": ("chenjing", "陈静", "purchasing", ["reviewer_purchasing"]),
    "reviewer_quality": ("yangli", "杨丽", "quality", ["reviewer_quality"]),
    "reviewer_rnd": ("zhaolei", "赵磊", "rnd", ["reviewer_rnd"]),
    "reviewer_warehouse": ("huangmin", "黄敏", "warehouse", ["reviewer_warehouse"]),
    "reviewer_finance": ("zhoujie", "周杰", "finance", ["reviewer_finance"]),
    "deputy_gm": ("wuqiang", "吴强", "gm_office", ["deputy_gm"]),
    "gm": ("xuming", "徐明", "gm_office", ["gm"]),
    "quality_engineer": ("sunhui", "孙慧", "quality", ["quality_engineer"]),
    "management_rep": ("maqing", "马青", "quality", ["management_rep"]),
    "dispatcher": ("zhuhong", "朱红", "service", ["dispatcher"]),
    "technician": ("huwei", "胡伟", "service", ["technician"]),
    "service_supervisor": ("linxia", "林霞", "service", ["service_supervisor"]),
    "records_officer": ("hejing", "何静", "records", ["records_officer"]),
    "auditor": ("auditor", "郑华", None, ["auditor"]),
    "administrator": ("admin", "王建国", "gm_office", ["administrator"]),
}


def make_persona(name, **overrides):
    """Create (or fetch) the persona ``name`` from PERSONAS; the org seed is applied first."""
    seed_org()
    username, full_name, dept_code, roles = PERSONAS[name]
    from qcare.accounts.models import User

    existing = User.objects.filter(username=username).first()
    if existing is not None:
        return existing
    fields = {"username": username, "full_name": full_name, "roles": roles}
    fields["department"] = Department.objects.get(code=dept_code) if dept_code else None
    if name == "auditor":
        fields["access_expires_at"] = timezone.now() + timedelta(days=30)
    fields.update(overrides)
    return UserFactory(**fields)


def _fixture(persona):
    @pytest.fixture(name=persona)
    def _persona(db):
        return make_persona(persona)

    _persona.__doc__ = f"The {persona} persona ({PERSONAS[persona][1]})."
    return _persona


for _name in PERSONAS:
    globals()[f"persona_{_name}"] = _fixture(_name)


@pytest.fixture
def org(db):
    """The seeded departments by code."""
    seed_org()
    return {d.code: d for d in Department.objects.all()}
