"""Import products from xlsx or csv (R-IF-4): validate every row, then write all or the valid.

File reading (xlsx via calamine/openpyxl, csv in UTF-8 or GBK) and the row-error report are
the customers import's generic parts, imported from :mod:`qcare.customers.importexport`.
"""

import csv
import io
from dataclasses import dataclass

from django.db import transaction
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.audit.services import log_event
from qcare.catalog.models import Product, ProductCategory
from qcare.catalog.services import product_errors
from qcare.core.context import audit_context
from qcare.core.errors import ValidationFailed
from qcare.core.tabular import ImportReport, RowError, read_rows

MODES = ("validate", "commit", "commit_valid")
MAX_IMPORT_ROWS = 10_000
YES = {"是", "yes", "y", "true", "1", "定型"}
NO = {"否", "no", "n", "false", "0", "非定型"}


@dataclass(frozen=True)
class Col:
    """One template column: the model field, its Chinese header, required (marked *)."""

    key: str
    header: str
    required: bool = False


COLUMNS = (
    Col("code", "产品编码", True),
    Col("name", "产品名称", True),
    Col("model", "型号规格"),
    Col("category", "类别代码", True),
    Col("is_standard", "定型产品(是/否)"),
    Col("is_regulated", "医疗器械(是/否)"),
    Col("registration_number", "注册证/备案编号"),
    Col("manufacturer", "生产企业"),
    Col("manufacturer_licence", "生产许可证/备案编号"),
    Col("warranty_months", "保修月数"),
    Col("unit", "单位"),
    Col("notes", "备注"),
)
EXAMPLE = (
    "JX-2201",
    "多参数监护仪",
    "PM-9000",
    "07",
    "是",
    "是",
    "粤械注准20192070001",
    "深圳示例医疗有限公司",
    "粤食药监械生产许20150001号",
    "12",
    "台",
    "",
)


def template_headers():
    return [c.header + ("*" if c.required else "") for c in COLUMNS]


def build_template_xlsx():
    """The downloadable template: Chinese headers and one example row."""
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "产品"
    sheet.append(template_headers())
    sheet.append(list(EXAMPLE))
    for index in range(len(COLUMNS)):
        sheet.column_dimensions[chr(ord("A") + index)].width = 20
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def build_template_csv():
    """The template as UTF-8 csv with BOM (Excel in China opens it without mojibake)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(template_headers())
    writer.writerow(EXAMPLE)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _norm(text):
    """Header as typed by people: no stars or spaces, full-width brackets and slashes folded."""
    text = str(text or "").translate(str.maketrans("（）／", "()/", "*＊ \u3000"))
    return text.strip().lower()


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _map_headers(header_row, report):
    """Column index of each template key; missing required columns are errors of row 1."""
    known = {_norm(c.header): c.key for c in COLUMNS} | {c.key: c.key for c in COLUMNS}
    index = {}
    for position, header in enumerate(header_row):
        key = known.get(_norm(header))
        if key and key not in index:
            index[key] = position
    for col in COLUMNS:
        if col.required and col.key not in index:
            report.errors.append(RowError(1, col.header, _("This column is missing.")))
    return index


def _bool(text, header, rownum, errors):
    if text == "":
        return None
    low = text.lower()
    if low in YES:
        return True
    if low in NO:
        return False
    errors.append(RowError(rownum, header, _("Enter 是 or 否.")))
    return None


def _check_row(raw, rownum, categories, seen, errors):
    """Values of one row ready for ``Product.objects.create``; appends its errors."""
    header = {c.key: c.header for c in COLUMNS}
    values = {c.key: raw.get(c.key, "") for c in COLUMNS}
    code = values["code"]
    category = categories.get(values["category"].lower()) if values["category"] else None
    if values["category"] and category is None:
        errors.append(
            RowError(
                rownum,
                header["category"],
                _("Unknown category code %(code)s.") % {"code": values["category"]},
            )
        )
    values["category"] = category
    for key in ("is_standard", "is_regulated"):
        values[key] = _bool(values[key], header[key], rownum, errors)
    if values["is_standard"] is None:
        values["is_standard"] = True
    if values["is_regulated"] is None:
        values["is_regulated"] = category.is_regulated if category else True
    months = values["warranty_months"]
    if months == "":
        values["warranty_months"] = 12
    elif months.isdigit():
        values["warranty_months"] = int(months)
    else:
        values["warranty_months"] = None
        errors.append(RowError(rownum, header["warranty_months"], _("Enter a whole number of months.")))
    values["unit"] = values["unit"] or "台"
    field_errors = product_errors(values)
    if category is None and values.get("category") is None and raw.get("category"):
        field_errors.pop("category", None)  # already reported as unknown
    for key, messages in field_errors.items():
        for message in messages:
            errors.append(RowError(rownum, header[key], str(message)))
    if code:
        first = seen.setdefault(code.lower(), rownum)
        if first != rownum:
            errors.append(
                RowError(
                    rownum,
                    header["code"],
                    _("The code %(code)s is already used in row %(row)d.") % {"code": code, "row": first},
                )
            )
    return values


def validate_rows(rows):
    """Check every row without writing; the report lists each (row, column, error)."""
    report = ImportReport()
    if not rows:
        report.errors.append(RowError(1, "", _("The file is empty.")))
        return report
    index = _map_headers(rows[0], report)
    if report.errors:
        return report
    categories = {c.code.lower(): c for c in ProductCategory.objects.filter(is_active=True)}
    seen = {}
    for rownum, row in enumerate(rows[1:], start=2):
        raw = {key: _cell(row[pos]) if pos < len(row) else "" for key, pos in index.items()}
        if not any(raw.values()):
            continue
        report.total_rows += 1
        if report.total_rows > MAX_IMPORT_ROWS:
            raise ValidationFailed(
                _("At most %(max)d rows can be imported at once.") % {"max": MAX_IMPORT_ROWS}
            )
        errors = []
        values = _check_row(raw, rownum, categories, seen, errors)
        if errors:
            report.errors.extend(errors)
            report.invalid_rows += 1
        else:
            report.valid_rows += 1
            report.groups.append(values)
    return report


def import_file(actor, data, filename, *, mode="validate"):
    """Validate the upload; ``commit`` writes only when every row is valid, ``commit_valid``
    writes the valid rows. Needs ``catalog.change``."""
    require_perm(actor, "catalog.change")
    if mode not in MODES:
        raise ValidationFailed(errors={"mode": [_("Choose validate, commit or commit_valid.")]})
    report = validate_rows(read_rows(data, filename))
    if mode == "validate" or (mode == "commit" and report.has_errors) or not report.groups:
        return report
    with (
        transaction.atomic(),
        audit_context(actor=actor, reason=_("Imported from %(file)s") % {"file": filename}),
    ):
        for values in report.groups:
            report.created.append(Product.objects.create(**values).pk)
        # One business event with the counts: the per-product create entries say what, this says how.
        log_event(
            "import",
            actor=actor,
            data={"model": "catalog.product", "file": filename, "mode": mode, "created": len(report.created)},
        )
    report.committed = True
    return report
