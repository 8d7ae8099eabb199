"""Demo products for ``qcare demo``: monitors, infusion pumps, ultrasound, lab analysers."""

from django.db import transaction

from qcare.catalog.models import Product, ProductCategory
from qcare.core.context import audit_context

MAKER = "深圳康禾医疗科技有限公司"
MAKER_LICENCE = "粤食药监械生产许20160088号"

# (code, name, model, category, registration number, is_standard, warranty months, unit)
PRODUCTS = (
    ("JX-0701", "多参数监护仪", "PM-7000", "07", "粤械注准20182070101", True, 12, "台"),
    ("JX-0702", "多参数监护仪", "PM-9000 Plus", "07", "粤械注准20192070102", True, 18, "台"),
    ("JX-0703", "中央监护系统", "CMS-64", "07", "国械注准20193070103", True, 12, "套"),
    ("JX-0704", "便携式心电监护仪", "ECG-3A（定制接口）", "07", "粤械注准20202070104", False, 12, "台"),
    ("JX-1401", "输液泵", "IP-300", "14", "国械注准20193140201", True, 12, "台"),
    ("JX-1402", "注射泵", "SP-500", "14", "国械注准20193140202", True, 12, "台"),
    ("JX-1403", "营养泵", "EP-100", "14", "国械注准20213140203", True, 12, "台"),
    ("JX-0601", "彩色多普勒超声诊断系统", "US-8800", "06", "国械注准20203060301", True, 24, "台"),
    ("JX-0602", "便携式彩色超声诊断仪", "US-P5", "06", "国械注准20213060302", True, 24, "台"),
    ("JX-0603", "超声探头（线阵）", "L12-4", "06", "国械注准20213060303", True, 12, "个"),
    ("JX-2201", "全自动生化分析仪", "BS-480", "22", "粤械注准20172220401", True, 12, "台"),
    ("JX-2202", "全自动血液细胞分析仪", "HA-5300", "22", "粤械注准20182220402", True, 12, "台"),
    ("JX-2203", "化学发光免疫分析仪", "CL-1000i（改型）", "22", "粤械注准20232220403", False, 12, "台"),
)
# Accessories that are not medical devices: no registration certificate is needed.
ACCESSORIES = (
    ("PJ-0001", "监护仪移动推车", "TR-01", "07", "台"),
    ("PJ-0002", "设备防尘罩", "DC-M", "07", "个"),
)


def create_demo_products():
    """Create the demo products that do not exist yet (idempotent); returns how many."""
    categories = {c.code: c for c in ProductCategory.objects.filter(code__in=["06", "07", "14", "22"])}
    existing = set(Product.objects.values_list("code", flat=True))
    created = 0
    with transaction.atomic(), audit_context(actor=None):
        for code, name, model, cat, reg, standard, months, unit in PRODUCTS:
            if code in existing or cat not in categories:
                continue
            Product.objects.create(
                code=code, name=name, model=model, category=categories[cat], is_standard=standard,
                is_regulated=True, registration_number=reg, manufacturer=MAKER,
                manufacturer_licence=MAKER_LICENCE, warranty_months=months, unit=unit,
            )  # fmt: skip
            created += 1
        for code, name, model, cat, unit in ACCESSORIES:
            if code in existing or cat not in categories:
                continue
            Product.objects.create(
                code=code, name=name, model=model, category=categories[cat], is_regulated=False,
                manufacturer=MAKER, warranty_months=6, unit=unit,
            )  # fmt: skip
            created += 1
    return created
