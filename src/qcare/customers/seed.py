"""Default classification lists of the customer file (configurable afterwards, R-CU-1)."""

from qcare.customers.choices import ClassificationKind

CLASSIFICATIONS = [
    # kind, code, name, English name, order, requires_licence
    (ClassificationKind.TYPE, "distributor", "经销商", "Distributor", 10, True),
    (ClassificationKind.TYPE, "agent", "代理商", "Agent", 20, True),
    (ClassificationKind.TYPE, "hospital", "医院/终端用户", "Hospital / end user", 30, False),
    (ClassificationKind.TYPE, "oem", "OEM 客户", "OEM client", 40, False),
    (ClassificationKind.TYPE, "trading", "贸易公司", "Trading company", 50, True),
    (
        ClassificationKind.RELATIONSHIP,
        "purchased",
        "已购客户（业主）",
        "Existing customer (has purchased)",
        10,
        False,
    ),
    (ClassificationKind.RELATIONSHIP, "intention", "意向客户", "Intending customer", 20, False),
    (ClassificationKind.RELATIONSHIP, "potential", "潜在客户", "Potential customer", 30, False),
    (ClassificationKind.VALUE, "strategic", "战略客户", "Strategic", 10, False),
    (ClassificationKind.VALUE, "important", "重要客户", "Important", 20, False),
    (ClassificationKind.VALUE, "promising", "潜力客户", "Promising", 30, False),
    (ClassificationKind.VALUE, "general", "一般客户", "General", 40, False),
]


def seed_classifications(Classification):
    for kind, code, name, name_en, order, requires_licence in CLASSIFICATIONS:
        Classification.objects.get_or_create(
            kind=kind,
            code=code,
            defaults={
                "name": name,
                "name_en": name_en,
                "sort_order": order,
                "requires_licence": requires_licence,
            },
        )
