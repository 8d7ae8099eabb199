"""Demo customers for ``qcare demo`` (R-CU): hospitals, distributors with licences (two expiring
within the warning window, one expired), agents, OEM clients, trading companies and foreign
customers, with contacts, a communication history, a plant visit and customer property.

Idempotent: a customer is looked up by name and created only when missing. Everything is
written through the services, so numbers, validation, audit trail and notifications are real.
"""

from datetime import timedelta

from django.utils import timezone

from qcare.catalog.models import ProductCategory
from qcare.customers import services
from qcare.customers.choices import ClassificationKind, CommunicationKind, LicenceKind, PropertyKind
from qcare.customers.models import Classification, Customer

HOSPITALS = [
    ("广州市第一人民医院", "广州一院", "广东省广州市", "广州市越秀区盘福路1号"),
    ("深圳市人民医院", "深圳人医", "广东省深圳市", "深圳市罗湖区东门北路1017号"),
    ("中山大学附属第一医院", "中山一院", "广东省广州市", "广州市越秀区中山二路58号"),
    ("南方医科大学南方医院", "南方医院", "广东省广州市", "广州市白云区广州大道北1838号"),
    ("广东省人民医院", "省人医", "广东省广州市", "广州市越秀区中山二路106号"),
    ("佛山市第一人民医院", "佛山一院", "广东省佛山市", "佛山市禅城区岭南大道北81号"),
    ("东莞市人民医院", "东莞人医", "广东省东莞市", "东莞市万江街道新谷涌万道路南3号"),
    ("珠海市人民医院", "珠海人医", "广东省珠海市", "珠海市香洲区康宁路79号"),
    ("北京协和医院", "协和医院", "北京市", "北京市东城区帅府园1号"),
    ("上海交通大学医学院附属瑞金医院", "瑞金医院", "上海市", "上海市黄浦区瑞金二路197号"),
    ("四川大学华西医院", "华西医院", "四川省成都市", "成都市武侯区国学巷37号"),
    ("浙江大学医学院附属第一医院", "浙大一院", "浙江省杭州市", "杭州市上城区庆春路79号"),
]
# name, short name, region, days until the licence expires (None: no expiry), category codes
DISTRIBUTORS = [
    ("广州康瑞医疗器械有限公司", "康瑞医疗", "广东省广州市", 25, ["06", "07", "08"]),
    ("深圳市华康医疗设备有限公司", "华康医疗", "广东省深圳市", 45, ["06", "07"]),
    ("佛山市德仁医疗器械有限公司", "德仁医疗", "广东省佛山市", -20, ["07", "14"]),
    ("东莞市安信医疗科技有限公司", "安信医疗", "广东省东莞市", 400, ["06", "07", "22"]),
    ("湖南湘雅医疗器械有限公司", "湘雅器械", "湖南省长沙市", 720, ["06", "07", "08", "09"]),
    ("武汉同济医疗器械贸易有限公司", "同济器械", "湖北省武汉市", 900, ["07", "14", "22"]),
    ("成都蓉康医疗器械有限公司", "蓉康医疗", "四川省成都市", 1100, ["06", "07"]),
    ("杭州西湖医疗器械有限公司", "西湖医疗", "浙江省杭州市", 500, ["07", "08"]),
    ("南京金陵医疗设备有限公司", "金陵医疗", "江苏省南京市", 650, ["06", "07", "21"]),
    ("上海浦江医疗器械有限公司", "浦江医疗", "上海市", 1300, ["06", "07", "08", "22"]),
    ("北京康泰医疗器械有限公司", "康泰医疗", "北京市", 800, ["07", "09", "19"]),
    ("福州闽康医疗器械有限公司", "闽康医疗", "福建省福州市", None, ["07", "14"]),
]
AGENTS = [
    ("广西桂康医疗代理有限公司", "桂康医疗", "广西壮族自治区南宁市", 600, ["06", "07"]),
    ("云南滇卫医疗科技有限公司", "滇卫科技", "云南省昆明市", 300, ["07"]),
    ("江西赣康医疗器械代理有限公司", "赣康医疗", "江西省南昌市", 1000, ["07", "08"]),
    ("河南中原医疗器械代理有限公司", "中原医疗", "河南省郑州市", 450, ["06", "07", "22"]),
    ("山东齐鲁医疗器械代理有限公司", "齐鲁医疗", "山东省济南市", 750, ["07", "14"]),
]
OEM_CLIENTS = [
    ("苏州普瑞医疗科技有限公司", "普瑞医疗", "江苏省苏州市"),
    ("宁波康复医疗器械制造有限公司", "宁波康复", "浙江省宁波市"),
    ("厦门鹭岛生物科技有限公司", "鹭岛生物", "福建省厦门市"),
]
TRADING = [
    ("广州南沙国际医疗贸易有限公司", "南沙医贸", "广东省广州市", 365, ["06", "07", "08"]),
    ("深圳前海医贸通贸易有限公司", "医贸通", "广东省深圳市", 540, ["07"]),
]
# name, short name, country, region, contact
FOREIGN = [
    (
        "MedTech Handels GmbH",
        "MedTech",
        "DE",
        "Bayern",
        ("Anna Becker", "+49 89 1234 5678", "a.becker@example.de"),
    ),
    (
        "Nordic Care Supplies AB",
        "Nordic Care",
        "SE",
        "Stockholm",
        ("Erik Lund", "+46 8 123 456 78", "erik@example.se"),
    ),
]
SURNAMES = "陈王李张刘黄林周吴徐孙马朱胡郭何高罗郑梁"
TITLES = ["设备科科长", "采购经理", "总经理", "质量负责人", "护士长", "器械科主任"]


def _demo_users(users):
    if isinstance(users, dict):
        return users
    return {user.username: user for user in users}


def _contacts(index, count=2):
    rows = []
    for n in range(count):
        number = index * 10 + n
        rows.append(
            {
                "name": f"{SURNAMES[number % len(SURNAMES)]}{'工' if n else '经理'}",
                "title": TITLES[number % len(TITLES)],
                "phone": f"020-8{number:03d}{1000 + number:04d}",
                "mobile": f"1380000{number:04d}",
                "email": f"contact{number}@example.cn",
            }
        )
    return rows


def _tax_id(prefix, index):
    return f"{prefix}440101MA5C{index:05d}X"


def _create(owner, data, contacts):
    existing = Customer.objects.filter(name=data["name"]).first()
    if existing is not None:
        return existing, False
    return services.create_customer(owner, data=data, contacts=contacts), True


def _add_licence(owner, customer, index, days, codes):
    today = timezone.localdate()
    categories = list(ProductCategory.objects.filter(code__in=codes))
    kind = LicenceKind.CLASS2_FILING if index % 4 == 3 else LicenceKind.DEVICE_BUSINESS
    word = "备" if kind == LicenceKind.CLASS2_FILING else "许"
    services.add_licence(
        owner,
        customer,
        data={
            "kind": kind,
            "number": f"粤食药监械经营{word}{2015 + index % 8}{index + 101:04d}号",
            "authority": f"{customer.region}市场监督管理局",
            "valid_from": today - timedelta(days=5 * 365 - (days or 0))
            if days is not None
            else today - timedelta(days=900),
            "valid_until": today + timedelta(days=days) if days is not None else None,
            "scope_text": "、".join(f"{c.code} {c.name}" for c in categories),
        },
        categories=categories,
    )


def _history(owner, customer, index):
    now = timezone.now()
    contact = customer.contacts.order_by("-is_primary", "pk").first()
    entries = [
        (CommunicationKind.INQUIRY, "询价：多参数监护仪 20 台", 30),
        (CommunicationKind.CALL, "电话确认交货期与付款方式", 21),
        (CommunicationKind.EMAIL, "发送产品注册证与说明书", 9),
    ]
    for kind, subject, days_ago in entries[: 1 + index % 3]:
        services.log_communication(
            owner,
            customer,
            data={
                "kind": kind,
                "subject": subject,
                "occurred_at": now - timedelta(days=days_ago),
                "contact": contact,
            },
        )


def _plant_visit(owner, customer, users):
    from qcare.accounts.models import Department

    quality_engineer = users.get("sunhui") or owner
    services.log_communication(
        owner,
        customer,
        data={
            "kind": CommunicationKind.PLANT_VISIT,
            "subject": "参观生产线与灭菌车间，了解监护仪质量控制",
            "occurred_at": timezone.now() - timedelta(days=3),
            "attendees": "客户：总经理、质量负责人；我方：销售部、品质部、生产部",
            "customer_opinions": "希望提供灭菌验证报告和近一年的出厂检验记录。",
        },
        notified_departments=list(Department.objects.filter(code__in=["quality", "production"])),
        follow_ups=[
            {
                "description": "整理灭菌验证报告和出厂检验记录发给客户",
                "owner": quality_engineer,
                "due_date": timezone.localdate() + timedelta(days=10),
            }
        ],
    )


def _property(owner, customer, short_name):
    services.register_property(
        owner,
        customer,
        data={
            "kind": PropertyKind.TOOLING,
            "name": f"{short_name}外壳注塑模具",
            "identification": f"MJ-{customer.code}",
            "location": "模具房 A-3",
            "condition": "良好",
            "received_on": timezone.localdate() - timedelta(days=200),
        },
    )
    services.register_property(
        owner,
        customer,
        data={
            "kind": PropertyKind.DRAWING,
            "name": f"{short_name}产品图纸（受控）",
            "location": "研发部档案柜",
        },
    )


def _classification(kind, code):
    return Classification.objects.get(kind=kind, code=code)


def _hospitals(owners, types):
    purchased = _classification(ClassificationKind.RELATIONSHIP, "purchased")
    created = 0
    for index, (name, short, region, address) in enumerate(HOSPITALS):
        owner = owners[index % len(owners)]
        data = {"name": name, "short_name": short, "customer_type": types["hospital"], "region": region}
        data.update(address=address, relationship=purchased)
        customer, new = _create(owner, data, _contacts(index))
        if new:
            _history(owner, customer, index)
            created += 1
    return created


def _licensed(owners, types, users):
    """Distributors, agents and trading companies, each with a licence."""
    groups = ((DISTRIBUTORS, "distributor"), (AGENTS, "agent"), (TRADING, "trading"))
    created = 0
    for offset, (group, type_code) in enumerate(groups):
        for index, (name, short, region, days, codes) in enumerate(group):
            number = 100 * (offset + 1) + index
            owner = owners[number % len(owners)]
            data = {"name": name, "short_name": short, "customer_type": types[type_code], "region": region}
            data["tax_id"] = _tax_id("91", number)
            customer, new = _create(owner, data, _contacts(number))
            if not new:
                continue
            _add_licence(owner, customer, number, days, codes)
            _history(owner, customer, number)
            if number == 100:  # 广州康瑞: the plant visit with a visit notice and a follow-up
                _plant_visit(owner, customer, users)
            created += 1
    return created


def _oem_clients(owners, types):
    created = 0
    for index, (name, short, region) in enumerate(OEM_CLIENTS):
        owner = owners[index % len(owners)]
        data = {"name": name, "short_name": short, "customer_type": types["oem"], "region": region}
        data["tax_id"] = _tax_id("92", index)
        customer, new = _create(owner, data, _contacts(500 + index))
        if new:
            _property(owner, customer, short)
            created += 1
    return created


def _foreign(owners, types):
    created = 0
    for index, (name, short, country, region, (person, phone, email)) in enumerate(FOREIGN):
        owner = owners[index % len(owners)]
        data = {"name": name, "short_name": short, "customer_type": types["distributor"], "region": region}
        data.update(is_foreign=True, country=country, preferred_language="en")
        contact = {"name": person, "phone": phone, "email": email, "preferred_language": "en"}
        created += _create(owner, data, [contact])[1]
    return created


def create_demo_customers(users):
    """Create the demo customers that do not exist yet; returns how many were created.

    ``users``: the demo users (a dict by username or an iterable); the sales clerks own them.
    """
    users = _demo_users(users)
    owners = [users[name] for name in ("zhangwei", "lina") if name in users]
    if not owners:
        return 0
    codes = ("hospital", "distributor", "agent", "oem", "trading")
    types = {code: _classification(ClassificationKind.TYPE, code) for code in codes}
    return (
        _hospitals(owners, types)
        + _licensed(owners, types, users)
        + _oem_clients(owners, types)
        + _foreign(owners, types)
    )
