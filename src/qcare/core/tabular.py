"""Spreadsheets shared by every app: reading imports (R-IF-4) and the small pieces of the
xlsx exports (header labels, write-only workbooks, the filters an export event logs).

``read_rows(data, filename)`` gives the rows of an xlsx (python-calamine, openpyxl fallback)
or csv (UTF-8 with or without BOM, or GBK/GB18030) upload; ``RowError`` and ``ImportReport``
are the row-by-row report every import shows before it writes anything.
"""

import csv
import datetime
import io
from dataclasses import dataclass, field

from django.utils.translation import gettext as _

from qcare.core.errors import ValidationFailed


@dataclass
class RowError:
    """One problem found in the upload: spreadsheet row (1 = header), column header, message."""

    row: int
    column: str
    message: str

    def as_dict(self):
        return {"row": self.row, "column": self.column, "message": self.message}


@dataclass
class ImportReport:
    """What validation found and, after a commit, what was written."""

    total_rows: int = 0
    valid_rows: int = 0
    invalid_rows: int = 0
    errors: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    groups: list = field(default_factory=list)  # valid customer groups, ready to write
    created: list = field(default_factory=list)  # ids of created customers
    committed: bool = False

    @property
    def has_errors(self):
        return bool(self.errors)

    def as_dict(self):
        return {
            "total_rows": self.total_rows,
            "valid_rows": self.valid_rows,
            "invalid_rows": self.invalid_rows,
            "errors": [e.as_dict() for e in self.errors],
            "warnings": [str(w) for w in self.warnings],
            "created": list(self.created),
            "committed": self.committed,
        }


def decode_csv(data):
    """CSV bytes as text: UTF-8 (with or without BOM), else GB18030 (a superset of GBK)."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise ValidationFailed(
            _("The CSV file is neither UTF-8 nor GBK encoded. Save it again as “CSV UTF-8”."),
            errors={"file": [_("Unknown text encoding.")]},
        ) from None


def read_rows(data, filename):
    """Rows of the upload as lists of cell values (first row = headers); xlsx or csv by name."""
    name = (filename or "").lower()
    if name.endswith(".csv"):
        return list(csv.reader(io.StringIO(decode_csv(data))))
    if name.endswith(".xlsx"):
        try:
            return read_xlsx(data)
        except Exception:  # noqa: BLE001 - any unreadable workbook gets the same answer
            raise ValidationFailed(
                _("The file could not be read as an Excel workbook (.xlsx)."),
                errors={"file": [_("Not a valid .xlsx file.")]},
            ) from None
    raise ValidationFailed(
        _("Upload an .xlsx or .csv file."), errors={"file": [_("Only .xlsx and .csv files can be imported.")]}
    )


def read_xlsx(data):
    """Rows of the first sheet. python-calamine (Rust) reads 20,000 rows in about a second,
    openpyxl needs ten times longer; openpyxl stays the fallback when calamine is missing."""
    try:
        from python_calamine import CalamineWorkbook
    except ImportError:
        CalamineWorkbook = None
    if CalamineWorkbook is not None:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        return workbook.get_sheet_by_index(0).to_python(skip_empty_area=False)
    from openpyxl import load_workbook

    workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    try:
        return [list(r) for r in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


def cell(value):
    """A cell as trimmed text (dates as ISO dates, whole floats without “.0”)."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# --- exports -----------------------------------------------------------------------------------
def field_label(model, name):
    """The column header of ``model.name``: its verbose name, capitalised, in the active language."""
    from django.utils.text import capfirst

    return capfirst(str(model._meta.get_field(name).verbose_name))


def new_workbook():
    """A write-only openpyxl workbook (streams rows; an export of 100k rows stays small in memory)."""
    from openpyxl import Workbook

    return Workbook(write_only=True)


def workbook_bytes(workbook):
    """The saved workbook as xlsx bytes."""
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def filter_log(filters):
    """An export's filters as JSON-safe values for its audit event (objects → ids, dates → ISO)."""
    logged = {}
    for name, value in (filters or {}).items():
        if value in (None, "", [], ()):
            continue
        if isinstance(value, list | tuple):
            logged[name] = [str(getattr(v, "pk", v)) for v in value]
        elif isinstance(value, datetime.date):
            logged[name] = value.isoformat()
        else:
            logged[name] = str(getattr(value, "pk", value))
    return logged
