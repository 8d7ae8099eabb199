"""The organisation every installation starts with: departments, roles and default grants.

:func:`seed_org` is idempotent. It runs after every ``migrate`` (post_migrate) and from
``qcare demo``. It creates what is missing and never overwrites what an administrator has
changed: a role's default grants for a module are only added while that role has no grant
of that module yet (so a module that appears in a later release gets its defaults, but a
grant an administrator edited keeps its scope), and only for registered (installed) modules.
"""

from django.db import transaction

from qcare.accounts.permissions import is_registered
from qcare.core.models import Scope

# (code, Chinese name, English name)
DEPARTMENTS = [
    ("sales", "销售部/业务部", "Sales"),
    ("production", "生产部/PMC", "Production / PMC"),
    ("purchasing", "采购部", "Purchasing"),
    ("quality", "品质部", "Quality"),
    ("rnd", "研发部/技术部", "R&D / Engineering"),
    ("warehouse", "仓库", "Warehouse"),
    ("finance", "财务部", "Finance"),
    ("service", "服务部", "Service"),
    ("gm_office", "总经办", "General Manager's Office"),
    ("records", "档案室", "Records Office"),
]

# (code, Chinese name, English name, description in Chinese — the company's working language)
ROLES = [
    ("sales_clerk", "业务员", "Sales clerk", "录入顾客和订单，查看本人负责的记录。"),
    ("sales_manager", "销售经理", "Sales manager", "审批本部门（销售部）的记录。"),
    ("reviewer_production", "生产评审员", "Production reviewer", "评审订单的生产能力与交期。"),
    ("reviewer_purchasing", "采购评审员", "Purchasing reviewer", "评审订单的物料供应。"),
    ("reviewer_quality", "品质评审员", "Quality reviewer", "评审订单的质量要求。"),
    ("reviewer_rnd", "技术评审员", "R&D reviewer", "评审订单的技术可行性。"),
    ("reviewer_warehouse", "仓库评审员", "Warehouse reviewer", "评审订单的库存与发货。"),
    ("reviewer_finance", "财务评审员", "Finance reviewer", "评审订单的信用额度与付款条件。"),
    ("deputy_gm", "副总经理", "Deputy general manager", "审批超出部门经理权限的事项。"),
    ("gm", "总经理", "General manager", "最终批准，可查看全部记录。"),
    ("quality_engineer", "品质工程师", "Quality engineer", "调查投诉，负责纠正和预防措施（CAPA）。"),
    ("management_rep", "管理者代表", "Management representative", "负责质量管理体系的运行与监督。"),
    ("dispatcher", "派工员", "Dispatcher", "将服务请求派工给技术员。"),
    ("technician", "服务技术员", "Service technician", "执行现场服务。"),
    ("service_supervisor", "服务主管", "Service supervisor", "监督售后服务工作。"),
    ("records_officer", "档案管理员", "Records officer", "保管和调阅质量记录。"),
    ("auditor", "审核员（只读）", "Auditor (read-only)", "内部或外部审核员，只读，账户有时限。"),
    ("administrator", "系统管理员", "Administrator", "管理用户、角色和系统设置。"),
    ("portal_customer", "门户客户", "Portal customer", "顾客在客户门户中的用户。"),
    ("penalty_officer", "考核专员", "Penalty officer", "记录和查看投诉责任考核（警告、记过、扣奖金）。"),
]

OWN, DEPT, ALL = Scope.OWN, Scope.DEPARTMENT, Scope.ALL

# role -> {permission: scope}. The auditor role only ever holds "view" permissions.
DEFAULT_GRANTS = {
    "administrator": {
        "accounts.view": ALL,
        "accounts.add": ALL,
        "accounts.change": ALL,
        "accounts.delete": ALL,
        "audit.view": ALL,
        "policies.view": ALL,
        "policies.change": ALL,
        "notifications.admin": ALL,
        "numbering.view": ALL,
        "numbering.change": ALL,
        "signatures.view": ALL,
        "signatures.unlock": ALL,
        "calendar.view": ALL,
        "calendar.change": ALL,
        "sample.*": ALL,
        "customers.*": ALL,
    },
    "auditor": {
        "audit.view": ALL,
        "policies.view": ALL,
        "numbering.view": ALL,
        "calendar.view": ALL,
        "sample.view": ALL,
        "customers.view": ALL,
    },
    "management_rep": {"audit.view": ALL, "policies.view": ALL, "calendar.view": ALL, "customers.view": ALL},
    "sales_clerk": {
        "sample.view": OWN,
        "sample.add": OWN,
        "sample.change": OWN,
        "customers.view": OWN,
        "customers.add": OWN,
        "customers.change": OWN,
        "customers.export": OWN,
        "customers.view_personal_data": OWN,
    },
    "sales_manager": {
        "sample.view": DEPT,
        "sample.change": DEPT,
        "sample.approve": DEPT,
        "customers.view": DEPT,
        "customers.add": DEPT,
        "customers.change": DEPT,
        "customers.reassign": DEPT,
        "customers.export": DEPT,
        "customers.import": DEPT,
        "customers.view_personal_data": DEPT,
    },
    "gm": {"sample.view": ALL, "sample.approve": ALL, "customers.view": ALL, "customers.export": ALL},
    "deputy_gm": {"sample.view": ALL, "sample.approve": ALL, "customers.view": ALL, "customers.export": ALL},
    # Quality staff read the customer file (complaints, CAPA) but not contacts' personal data.
    "quality_engineer": {"customers.view": ALL},
    "records_officer": {"customers.view": ALL},
    # Service staff see only what a visit needs (address, contacts' names and office phones).
    "technician": {"customers.view_service": ALL},
    "dispatcher": {"customers.view_service": ALL},
    "service_supervisor": {"customers.view_service": ALL},
    # Portal users: scope_q limits "own" to the customer their account is linked to.
    "portal_customer": {"customers.view": OWN},
}

# Product catalogue (issue 4): everyone who takes, reviews or services orders reads it;
# R&D and quality maintain it (registration data is theirs), the administrator does all.
DEFAULT_GRANTS["administrator"]["catalog.*"] = ALL
for _role in (
    "sales_clerk",
    "sales_manager",
    "reviewer_production",
    "reviewer_purchasing",
    "reviewer_quality",
    "reviewer_rnd",
    "reviewer_warehouse",
    "reviewer_finance",
    "quality_engineer",
    "gm",
    "deputy_gm",
    "technician",
    "auditor",
):
    DEFAULT_GRANTS.setdefault(_role, {})["catalog.view"] = ALL
for _role in ("reviewer_rnd", "quality_engineer"):
    DEFAULT_GRANTS[_role]["catalog.change"] = ALL

# Orders and contract review (issue 4). Clerks work on their own orders, the sales manager on
# the department's; a reviewing department sees the orders it reviews (department scope);
# the warehouse ships any approved order; GM, deputy GM, quality, records and auditors read all.
DEFAULT_GRANTS["administrator"]["orders.*"] = ALL
DEFAULT_GRANTS["sales_clerk"].update(
    {f"orders.{a}": OWN for a in ("view", "add", "change", "issue_notice", "cancel", "export")}
)
DEFAULT_GRANTS["sales_manager"].update(
    {
        f"orders.{a}": DEPT
        for a in ("view", "add", "change", "review", "approve", "classify", "acknowledge", "issue_notice")
    }
    | {"orders.cancel": DEPT, "orders.export": DEPT}
)
for _role in (
    "reviewer_production",
    "reviewer_purchasing",
    "reviewer_quality",
    "reviewer_rnd",
    "reviewer_finance",
):
    DEFAULT_GRANTS[_role].update({"orders.view": DEPT, "orders.review": DEPT, "orders.acknowledge": DEPT})
DEFAULT_GRANTS["reviewer_warehouse"].update(
    {"orders.view": ALL, "orders.review": DEPT, "orders.acknowledge": DEPT, "orders.ship": ALL}
)
for _role in ("gm", "deputy_gm"):
    DEFAULT_GRANTS[_role].update(
        {"orders.view": ALL, "orders.approve": ALL, "orders.classify": ALL, "orders.export": ALL}
    )
for _role in ("auditor", "management_rep", "quality_engineer", "records_officer"):
    DEFAULT_GRANTS.setdefault(_role, {})["orders.view"] = ALL


# Feedback and complaints (issue 5). Anyone inside the company logs feedback and registers
# complaints (R-CO-1: "any department"); quality investigates and closes; departments add
# findings to the complaints they were asked about; the sales manager, deputy GM and GM approve
# dispositions within their loss band; warehouse receives returns, quality inspects, finance
# posts; the management representative issues advisory notices. Penalties: only the dedicated
# penalty officer role (R-CO-8).
_INTERNAL = [code for code, *_rest in ROLES if code not in ("portal_customer", "administrator", "auditor")]
for _role in _INTERNAL:
    DEFAULT_GRANTS.setdefault(_role, {}).update(
        {"feedback.view": OWN, "feedback.add": OWN, "complaints.view": OWN, "complaints.add": OWN}
    )
for _module in ("feedback", "complaints", "capa", "returns", "notices"):
    DEFAULT_GRANTS["administrator"][f"{_module}.*"] = ALL
for _role in ("auditor", "records_officer", "gm", "deputy_gm", "management_rep"):
    DEFAULT_GRANTS[_role].update(
        {f"{m}.view": ALL for m in ("feedback", "complaints", "capa", "returns", "notices")}
    )
# Statistics are management information; the auditor role holds view permissions only.
for _role in ("gm", "deputy_gm", "management_rep"):
    DEFAULT_GRANTS[_role]["complaints.report"] = ALL
DEFAULT_GRANTS["sales_clerk"].update(
    {
        "feedback.change": OWN,
        "complaints.change": OWN,
        "capa.view": OWN,
        "returns.view": OWN,
        "notices.view": ALL,
    }
)
DEFAULT_GRANTS["sales_manager"].update(
    {f"feedback.{a}": DEPT for a in ("view", "add", "change")}
    | {f"complaints.{a}": DEPT for a in ("view", "add", "change", "approve", "report", "export")}
    | {"capa.view": DEPT, "returns.view": DEPT, "returns.add": DEPT, "notices.view": ALL}
)
DEFAULT_GRANTS["quality_engineer"].update(
    {f"feedback.{a}": ALL for a in ("view", "add", "change")}
    | {
        f"complaints.{a}": ALL
        for a in ("view", "add", "change", "triage", "investigate", "close", "report", "export")
    }
    | {f"capa.{a}": ALL for a in ("view", "add", "change", "verify")}
    | {"returns.view": ALL, "returns.add": ALL, "returns.inspect": ALL}
    | {"notices.view": ALL, "notices.add": ALL, "notices.track": ALL}
)
DEFAULT_GRANTS["reviewer_quality"].update(
    {
        "complaints.view": DEPT,
        "complaints.investigate": DEPT,
        "capa.view": DEPT,
        "capa.change": DEPT,
        "returns.view": ALL,
        "returns.inspect": ALL,
    }
)
for _role in ("reviewer_production", "reviewer_purchasing", "reviewer_rnd"):
    DEFAULT_GRANTS[_role].update(
        {"complaints.view": DEPT, "complaints.investigate": DEPT, "capa.view": DEPT, "capa.change": DEPT}
    )
DEFAULT_GRANTS["reviewer_warehouse"].update(
    {"complaints.view": DEPT, "returns.view": ALL, "returns.receive": ALL, "notices.view": ALL}
)
DEFAULT_GRANTS["reviewer_finance"].update(
    {"complaints.view": DEPT, "returns.view": ALL, "returns.post": ALL, "returns.export": ALL}
)
for _role in ("gm", "deputy_gm"):
    DEFAULT_GRANTS[_role].update({"complaints.approve": ALL, "complaints.export": ALL})
DEFAULT_GRANTS["management_rep"].update(
    {"complaints.close": ALL, "complaints.export": ALL, "capa.add": ALL, "capa.verify": ALL}
    | {f"notices.{a}": ALL for a in ("add", "issue", "track")}
)
DEFAULT_GRANTS["service_supervisor"].update(
    {"complaints.view": DEPT, "feedback.view": DEPT, "feedback.change": DEPT}
)
DEFAULT_GRANTS["penalty_officer"] = {"penalties.view": ALL, "penalties.change": ALL, "complaints.view": ALL}
DEFAULT_GRANTS["portal_customer"].update({"feedback.view": OWN, "complaints.view": OWN, "notices.view": OWN})


def _seed_departments(Department):
    for code, name, name_en in DEPARTMENTS:
        Department.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})


def _seed_roles(Role, RolePermission):
    for code, name, name_en, description in ROLES:
        role, _created = Role.objects.get_or_create(
            code=code,
            defaults={"name": name, "name_en": name_en, "description": description, "is_system": True},
        )
        grants = DEFAULT_GRANTS.get(code, {})
        held_modules = {p.split(".", 1)[0] for p in role.grants.values_list("permission", flat=True)}
        for perm, scope in grants.items():
            # Only modules that are installed (registered): no sample grants in production.
            if is_registered(perm) and perm.split(".", 1)[0] not in held_modules:
                RolePermission.objects.get_or_create(role=role, permission=perm, defaults={"scope": scope})


def seed_org(using="default"):
    """Create the standard departments and roles with their default grants (idempotent)."""
    from qcare.accounts.models import Department, Role, RolePermission

    with transaction.atomic(using=using):
        _seed_departments(Department)
        _seed_roles(Role, RolePermission)


def seed_after_migrate(sender, using="default", plan=None, **kwargs):
    """post_migrate receiver: seed once the accounts tables exist."""
    from django.db import connections

    tables = connections[using].introspection.table_names()
    if "accounts_role" in tables and "accounts_department" in tables:
        seed_org(using=using)
