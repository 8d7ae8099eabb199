"""Import and export of customers (R-IF-4, R-CU-6): template, row validation, bulk import, export.

Import is two steps: :func:`validate_file` parses an xlsx/csv upload and reports *every*
error as (row, column, message) without writing anything; :func:`import_file` validates
again and writes either everything (``mode="commit"``, refused when any row is bad) or the
valid customers only (``mode="commit_valid"``).

Grouping rule: rows with the same customer name and tax id (both compared trimmed and
case-insensitively; an empty tax id groups by name alone) are ONE customer. The first row
of the group carries the customer's fields (later rows may repeat them or leave them
empty; a different value is an error); every row with a contact name adds a contact (the
first one becomes the primary contact) and every row with a licence number adds a licence.
A group with any bad row is not imported at all (a customer is never imported half).

Writes are bulk (``bulk_create``) but keep the service-layer guarantees: numbers come from
:func:`qcare.core.numbering.next_number` inside the same transaction, the audit trail gets
a create entry per row (:func:`qcare.audit.services.record_bulk_create`) and the import
itself is a business event; search text is computed before the insert.
"""

import csv
import datetime
import io
import re
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from qcare.accounts.permissions import require_perm, scope_for
from qcare.core.context import audit_context
from qcare.core.errors import ValidationFailed
from qcare.core.models import Scope
from qcare.core.tabular import ImportReport, RowError, read_rows
from qcare.core.tabular import cell as _cell
from qcare.customers import search, selectors
from qcare.customers.choices import Channel, ClassificationKind, Language, LicenceKind
from qcare.customers.models import Classification, Contact, Customer, Licence

#: Largest number of data rows one upload may hold, and of customers one export may hold.
MAX_IMPORT_ROWS = 50_000
MAX_EXPORT_ROWS = 50_000
BATCH = 1000


@dataclass(frozen=True)
class Col:
    """One template column: key, Chinese header, English header, required mark."""

    key: str
    zh: str
    en: str
    required: bool = False

    def header(self, lang):
        text = self.en if lang == "en" else self.zh
        return f"{text}*" if self.required else text


COLUMNS = (
    Col("name", "客户名称", "Customer name", True),
    Col("short_name", "简称", "Short name"),
    Col("customer_type", "客户类型", "Customer type", True),
    Col("origin", "国内/国外", "Domestic/foreign"),
    Col("country", "国家", "Country"),
    Col("region", "地区", "Region"),
    Col("address", "地址", "Address"),
    Col("tax_id", "税号", "Tax id"),
    Col("payment_terms", "付款条件", "Payment terms"),
    Col("relationship", "关系分类", "Relationship class"),
    Col("value_class", "价值分类", "Value class"),
    Col("owner", "负责人用户名", "Owner user name", True),
    Col("preferred_language", "首选语言", "Preferred language"),
    Col("preferred_channel", "首选沟通方式", "Preferred channel"),
    Col("contact_name", "联系人姓名", "Contact name"),
    Col("contact_title", "联系人职务", "Contact position"),
    Col("contact_phone", "联系人电话", "Contact phone"),
    Col("contact_mobile", "联系人手机", "Contact mobile"),
    Col("contact_email", "联系人邮箱", "Contact e-mail"),
    Col("notes", "备注", "Notes"),
    Col("licence_kind", "许可证类型", "Licence kind"),
    Col("licence_number", "许可证编号", "Licence number"),
    Col("licence_valid_until", "有效期至", "Licence valid until"),
)
COLUMN_BY_KEY = {c.key: c for c in COLUMNS}
CUSTOMER_KEYS = (
    "short_name",
    "customer_type",
    "origin",
    "country",
    "region",
    "address",
    "payment_terms",
    "relationship",
    "value_class",
    "owner",
    "preferred_language",
    "preferred_channel",
    "notes",
)
DOMESTIC = {"国内", "domestic", "内销", "境内", "0", "no", "false", "否"}
FOREIGN = {"国外", "foreign", "外销", "境外", "国际", "1", "yes", "true", "是"}
COUNTRY_ALIASES = {"中国": "CN", "china": "CN", "中华人民共和国": "CN"}
#: Office phone: digits with + - ( ) spaces, an optional extension; 5–20 digits in all.
PHONE_RE = re.compile(r"^\+?[0-9()\-\s]{5,30}((转|ext\.?|x)\s*[0-9]{1,6})?$", re.IGNORECASE)
#: Mobile: a mainland number (11 digits, 1[3-9]…) or an international one starting with +.
MOBILE_RE = re.compile(r"^(\+?86[\s-]?)?1[3-9][0-9]{9}$|^\+[0-9][0-9\s-]{6,20}$")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y%m%d", "%Y年%m月%d日")
LICENCE_ALIASES = {
    "医疗器械经营许可证": LicenceKind.DEVICE_BUSINESS,
    "经营许可证": LicenceKind.DEVICE_BUSINESS,
    "第二类医疗器械经营备案凭证": LicenceKind.CLASS2_FILING,
    "第二类备案凭证": LicenceKind.CLASS2_FILING,
    "备案凭证": LicenceKind.CLASS2_FILING,
    "其他": LicenceKind.OTHER,
    "其他资质": LicenceKind.OTHER,
}


# --------------------------------------------------------------------------- results


# --------------------------------------------------------------------------- template


def _allowed_values():
    """(column header, allowed values text) for every list column, in the active language."""
    lang = translation.get_language()
    en = lang == "en"
    classes = {kind: [] for kind in ClassificationKind.values}
    for c in Classification.objects.filter(is_active=True).order_by("kind", "sort_order", "code"):
        classes[c.kind].append(f"{c.code} = {c.name_en if en and c.name_en else c.name}")
    user_model = get_user_model()
    return [
        (COLUMN_BY_KEY["customer_type"], classes[ClassificationKind.TYPE]),
        (COLUMN_BY_KEY["origin"], ["国内 / domestic", "国外 / foreign"]),
        (COLUMN_BY_KEY["country"], [_("Two-letter ISO code, e.g. CN, US, DE (empty = CN)")]),
        (COLUMN_BY_KEY["tax_id"], [_("Must be unique; empty allowed")]),
        (COLUMN_BY_KEY["relationship"], classes[ClassificationKind.RELATIONSHIP]),
        (COLUMN_BY_KEY["value_class"], classes[ClassificationKind.VALUE]),
        (
            COLUMN_BY_KEY["owner"],
            [_("User name of an active user, e.g. %(example)s") % {"example": _example_username(user_model)}],
        ),
        (COLUMN_BY_KEY["preferred_language"], [f"{v} = {label}" for v, label in Language.choices]),
        (COLUMN_BY_KEY["preferred_channel"], [f"{v} = {label}" for v, label in Channel.choices]),
        (COLUMN_BY_KEY["contact_mobile"], [_("Personal data: shown only to roles that need it")]),
        (COLUMN_BY_KEY["licence_kind"], [f"{v} = {label}" for v, label in LicenceKind.choices]),
        (COLUMN_BY_KEY["licence_valid_until"], ["YYYY-MM-DD, YYYY/MM/DD, YYYY年MM月DD日"]),
    ]


def _example_username(user_model):
    return user_model.objects.filter(is_active=True).values_list("username", flat=True).first() or "zhangwei"


def template_headers(lang=None):
    """The template's header row in ``lang`` (default: the active language)."""
    lang = lang or translation.get_language()
    return [c.header("en" if (lang or "").startswith("en") else "zh") for c in COLUMNS]


def build_template_xlsx():
    """The import template as xlsx bytes: a data sheet with headers and an instructions sheet."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    sheet = wb.active
    sheet.title = _("Customers")
    sheet.append(template_headers())
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for idx in range(1, len(COLUMNS) + 1):
        sheet.column_dimensions[sheet.cell(row=1, column=idx).column_letter].width = 16
    notes = wb.create_sheet(_("Instructions"))
    notes.append([_("Column"), _("Allowed values")])
    notes.append(["*", _("Columns marked * are required.")])
    notes.append(
        ["", _("Rows with the same customer name and tax id form one customer with several contacts.")]
    )
    for col, values in _allowed_values():
        notes.append([col.header("en" if translation.get_language() == "en" else "zh"), "; ".join(values)])
    notes.column_dimensions["A"].width = 20
    notes.column_dimensions["B"].width = 100
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def build_template_csv():
    """The import template as CSV bytes: UTF-8 with BOM so that Excel opens it correctly."""
    text = io.StringIO()
    csv.writer(text).writerow(template_headers())
    return ("\ufeff" + text.getvalue()).encode("utf-8")


# --------------------------------------------------------------------------- reading


def _header_index():
    """Every accepted spelling of every header (Chinese, English, key), normalised."""
    index = {}
    for col in COLUMNS:
        for text in (col.zh, col.en, col.key):
            index[_norm_header(text)] = col.key
    return index


def _norm_header(text):
    return re.sub(r"[\s*＊]", "", str(text or "")).lower()


# --------------------------------------------------------------------------- validation


def _labels(choices_cls):
    """value → value for every code and label of a TextChoices, in Chinese and English."""
    index = {}
    for lang in ("zh-hans", "en"):
        with translation.override(lang):
            for value, label in choices_cls.choices:
                index[str(value).lower()] = value
                index[str(label).lower()] = value
    return index


class _Lookups:
    """Reference data loaded once per validation (a few queries however many rows)."""

    def __init__(self, rows):
        self.classes = {kind: {} for kind in ClassificationKind.values}
        for c in Classification.objects.filter(is_active=True):
            for text in (c.code, c.name, c.name_en):
                if text:
                    self.classes[c.kind][text.strip().lower()] = c
        usernames = {r.get("owner", "") for r in rows} - {""}
        user_model = get_user_model()
        self.users = {}
        for chunk in _chunks(sorted(usernames), 500):
            for user in user_model.objects.filter(username__in=chunk).only(
                "pk", "username", "is_active", "department_id"
            ):
                self.users[user.username] = user
            self.users.update(
                {u.username.lower(): u for u in self.users.values() if u.username.lower() not in self.users}
            )
        tax_ids = {r.get("tax_id", "").strip() for r in rows} - {""}
        self.existing_tax_ids = {}
        for chunk in _chunks(sorted(tax_ids), 500):
            self.existing_tax_ids.update(
                Customer.objects.filter(tax_id__in=chunk).values_list("tax_id", "code")
            )
        self.languages = _labels(Language) | {
            "中文": Language.ZH_HANS,
            "英文": Language.EN,
            "zh": Language.ZH_HANS,
        }
        self.channels = _labels(Channel)
        self.licence_kinds = _labels(LicenceKind) | LICENCE_ALIASES


def _chunks(items, size):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _parse_date(text):
    try:  # the common case, much faster than strptime
        return datetime.date.fromisoformat(text)
    except ValueError:
        pass
    for fmt in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


class _RowChecker:
    """Validates one row into model values; every problem is added to ``errors``."""

    def __init__(self, lookups, lang, actor=None):
        self.lk = lookups
        self.lang = lang
        self.actor = actor
        # P7: an importer may assign customers only to owners within their import scope.
        self.scope = scope_for(actor, "customers.import") if actor is not None else None

    def err(self, errors, rownum, key, message):
        errors.append(RowError(rownum, COLUMN_BY_KEY[key].header(self.lang), str(message)))

    def check(self, rownum, raw):
        errors = []
        values = {}
        self._customer(rownum, raw, values, errors)
        self._contact(rownum, raw, values, errors)
        self._licence(rownum, raw, values, errors)
        return values, errors

    def _length(self, rownum, raw, key, limit, errors):
        text = raw.get(key, "")
        if len(text) > limit:
            self.err(errors, rownum, key, _("At most %(limit)d characters.") % {"limit": limit})
        return text

    def _choice(self, rownum, raw, key, index, errors):
        text = raw.get(key, "")
        if not text:
            return None
        value = index.get(text.lower())
        if value is None:
            self.err(
                errors,
                rownum,
                key,
                _("“%(value)s” is not an allowed value (see the instructions sheet).") % {"value": text},
            )
        return value

    def _customer(self, rownum, raw, values, errors):
        name = self._length(rownum, raw, "name", 200, errors)
        if not name:
            self.err(errors, rownum, "name", _("The customer name is required."))
        values["name"] = name
        for key, limit in (("short_name", 100), ("region", 100), ("address", 300), ("payment_terms", 200)):
            values[key] = self._length(rownum, raw, key, limit, errors)
        values["notes"] = raw.get("notes", "")
        ctype = self._choice(rownum, raw, "customer_type", self.lk.classes[ClassificationKind.TYPE], errors)
        if not raw.get("customer_type"):
            self.err(errors, rownum, "customer_type", _("The customer type is required."))
        values["customer_type"] = ctype
        values["relationship"] = self._choice(
            rownum, raw, "relationship", self.lk.classes[ClassificationKind.RELATIONSHIP], errors
        )
        values["value_class"] = self._choice(
            rownum, raw, "value_class", self.lk.classes[ClassificationKind.VALUE], errors
        )
        self._origin(rownum, raw, values, errors)
        tax_id = self._length(rownum, raw, "tax_id", 40, errors)
        if tax_id and tax_id in self.lk.existing_tax_ids:
            self.err(
                errors,
                rownum,
                "tax_id",
                _("Customer %(code)s already has this tax id.") % {"code": self.lk.existing_tax_ids[tax_id]},
            )
        values["tax_id"] = tax_id or None
        self._owner(rownum, raw, values, errors)
        values["preferred_language"] = self._choice(
            rownum, raw, "preferred_language", self.lk.languages, errors
        )
        values["preferred_channel"] = self._choice(rownum, raw, "preferred_channel", self.lk.channels, errors)
        # Required by type: types that trade regulated devices need an address (licence check).
        if ctype is not None and ctype.requires_licence and not values["address"]:
            self.err(
                errors,
                rownum,
                "address",
                _("An address is required for customers of type %(type)s.") % {"type": ctype},
            )

    def _origin(self, rownum, raw, values, errors):
        origin = raw.get("origin", "").lower()
        country = raw.get("country", "").strip()
        country = COUNTRY_ALIASES.get(country.lower(), country).upper()
        if country and not re.fullmatch(r"[A-Z]{2}", country):
            self.err(errors, rownum, "country", _("Use the two-letter country code, e.g. CN, US, DE."))
        if origin in FOREIGN:
            is_foreign = True
        elif origin in DOMESTIC:
            is_foreign = False
        else:
            if origin:
                self.err(errors, rownum, "origin", _("Enter 国内 (domestic) or 国外 (foreign)."))
            is_foreign = bool(country) and country != "CN"
        if is_foreign and country in ("", "CN"):
            self.err(errors, rownum, "country", _("A foreign customer needs its country code (not CN)."))
        values["is_foreign"] = is_foreign
        values["country"] = country or "CN"

    def _owner(self, rownum, raw, values, errors):
        username = raw.get("owner", "")
        user = self.lk.users.get(username) or self.lk.users.get(username.lower())
        if not username:
            self.err(errors, rownum, "owner", _("The owner's user name is required."))
        elif user is None:
            self.err(errors, rownum, "owner", _("There is no user named “%(name)s”.") % {"name": username})
        elif not user.is_active:
            self.err(errors, rownum, "owner", _("User “%(name)s” is not active.") % {"name": username})
            user = None
        elif not self._in_scope(user):
            message = _("You may import customers only for yourself or users of your department.")
            self.err(errors, rownum, "owner", message)
            user = None
        values["owner"] = user

    def _in_scope(self, user):
        if self.actor is None or self.scope == Scope.ALL:
            return True
        if self.scope == Scope.DEPARTMENT:
            return user.pk == self.actor.pk or (
                self.actor.department_id is not None and user.department_id == self.actor.department_id
            )
        return user.pk == self.actor.pk

    def _contact(self, rownum, raw, values, errors):
        keys = ("contact_name", "contact_title", "contact_phone", "contact_mobile", "contact_email")
        if not any(raw.get(k) for k in keys):
            values["contact"] = None
            return
        name = self._length(rownum, raw, "contact_name", 100, errors)
        if not name:
            self.err(
                errors,
                rownum,
                "contact_name",
                _("The contact's name is required when contact data is given."),
            )
        phone, mobile, email = (raw.get(k, "") for k in ("contact_phone", "contact_mobile", "contact_email"))
        if phone and (not PHONE_RE.match(phone) or len(phone) > 40):
            self.err(
                errors,
                rownum,
                "contact_phone",
                _("“%(value)s” is not a valid phone number.") % {"value": phone},
            )
        if mobile and (not MOBILE_RE.match(mobile) or len(mobile) > 40):
            self.err(
                errors,
                rownum,
                "contact_mobile",
                _("“%(value)s” is not a valid mobile number.") % {"value": mobile},
            )
        if email:
            try:
                validate_email(email)
            except ValidationError:
                self.err(
                    errors,
                    rownum,
                    "contact_email",
                    _("“%(value)s” is not a valid e-mail address.") % {"value": email},
                )
        values["contact"] = {
            "name": name,
            "title": self._length(rownum, raw, "contact_title", 100, errors),
            "phone": phone,
            "mobile": mobile,
            "email": email,
        }

    def _licence(self, rownum, raw, values, errors):
        keys = ("licence_kind", "licence_number", "licence_valid_until")
        if not any(raw.get(k) for k in keys):
            values["licence"] = None
            return
        kind = self._choice(rownum, raw, "licence_kind", self.lk.licence_kinds, errors)
        if not raw.get("licence_kind"):
            self.err(
                errors, rownum, "licence_kind", _("The licence kind is required when a licence is given.")
            )
        number = self._length(rownum, raw, "licence_number", 80, errors)
        if not number:
            self.err(
                errors, rownum, "licence_number", _("The licence number is required when a licence is given.")
            )
        until_text = raw.get("licence_valid_until", "")
        until = _parse_date(until_text) if until_text else None
        if until_text and until is None:
            self.err(
                errors,
                rownum,
                "licence_valid_until",
                _("“%(value)s” is not a date; use YYYY-MM-DD.") % {"value": until_text},
            )
        values["licence"] = {"kind": kind, "number": number, "valid_until": until}


@dataclass
class _Group:
    """One customer of the upload: its first row's values and the rows that add contacts/licences."""

    first_row: int
    values: dict
    raw: dict
    rows: list = field(default_factory=list)  # (rownum, values)
    bad: bool = False


def _map_headers(header_row, report, lang):
    index = _header_index()
    mapping = {}
    for pos, text in enumerate(header_row):
        label = _cell(text)
        if not label:
            continue
        key = index.get(_norm_header(label))
        if key is None or key in mapping.values():
            report.warnings.append(
                _("Column “%(column)s” is not a template column and was ignored.") % {"column": label}
            )
            continue
        mapping[pos] = key
    for col in COLUMNS:
        if col.required and col.key not in mapping.values():
            report.errors.append(RowError(1, col.header(lang), _("The required column is missing.")))
    return mapping


def validate_rows(rows, lang=None, actor=None):
    """Validate parsed rows (first = headers) into an :class:`ImportReport`; writes nothing.

    With ``actor``, owners outside the actor's ``customers.import`` scope are errors.
    """
    lang = "en" if (lang or translation.get_language() or "").startswith("en") else "zh"
    report = ImportReport()
    if not rows:
        report.errors.append(RowError(1, "", _("The file is empty.")))
        return report
    mapping = _map_headers(rows[0], report, lang)
    if report.errors:
        return report
    records = []
    for offset, row in enumerate(rows[1:], start=2):
        raw = {key: _cell(row[pos]) if pos < len(row) else "" for pos, key in mapping.items()}
        if any(raw.values()):
            records.append((offset, raw))
    if len(records) > MAX_IMPORT_ROWS:
        report.errors.append(
            RowError(
                1,
                "",
                _("At most %(limit)d rows can be imported at once; split the file.")
                % {"limit": MAX_IMPORT_ROWS},
            )
        )
        return report
    report.total_rows = len(records)
    checker = _RowChecker(_Lookups([r for _n, r in records]), lang, actor)
    groups = _group_rows(records, checker, report, lang)
    report.groups = [g for g in groups if not g.bad]
    report.valid_rows = sum(len(g.rows) for g in report.groups)
    report.invalid_rows = report.total_rows - report.valid_rows
    order = {c.header(lang): pos for pos, c in enumerate(COLUMNS)}
    report.errors.sort(key=lambda e: (e.row, order.get(e.column, -1)))
    return report


def _group_rows(records, checker, report, lang):
    """Check every row and group the rows into customers (see the module's grouping rule)."""
    groups = {}
    tax_owner = {}  # tax id → (group key, first row) to catch the same tax id on two customers
    for rownum, raw in records:
        values, errors = checker.check(rownum, raw)
        key = (raw.get("name", "").lower(), raw.get("tax_id", "").lower())
        group = groups.get(key)
        if group is None:
            group = groups[key] = _Group(first_row=rownum, values=values, raw=raw)
            tax_id = raw.get("tax_id", "")
            if tax_id:
                if tax_id.lower() in tax_owner:
                    checker.err(
                        errors,
                        rownum,
                        "tax_id",
                        _("Row %(row)d has the same tax id for another customer.")
                        % {"row": tax_owner[tax_id.lower()]},
                    )
                else:
                    tax_owner[tax_id.lower()] = rownum
        else:
            _check_repeat(checker, group, rownum, raw, errors)
        group.rows.append((rownum, values))
        if errors:
            group.bad = True
            report.errors.extend(errors)
    return list(groups.values())


def _check_repeat(checker, group, rownum, raw, errors):
    """A further row of a customer may leave customer fields empty or repeat them, not change them."""
    for key in CUSTOMER_KEYS:
        text = raw.get(key, "")
        if text and text != group.raw.get(key, ""):
            checker.err(
                errors,
                rownum,
                key,
                _("Differs from row %(row)d of the same customer; leave it empty or repeat it.")
                % {"row": group.first_row},
            )


# --------------------------------------------------------------------------- import


MODES = ("validate", "commit", "commit_valid")


def validate_file(actor, data, filename):
    """Parse and validate an upload (permission customers.import); nothing is written."""
    require_perm(actor, "customers.import")
    return validate_rows(read_rows(data, filename), actor=actor)


def import_file(actor, data, filename, *, mode="commit"):
    """Validate and, depending on ``mode``, write the customers of an upload.

    ``validate``: report only. ``commit``: all or nothing — when any row is bad nothing is
    written and the report says why. ``commit_valid``: the customers whose rows are all
    valid are written, the rest is reported. Returns the :class:`ImportReport`.
    """
    if mode not in MODES:
        raise ValidationFailed(errors={"mode": [_("Unknown mode; use validate, commit or commit_valid.")]})
    report = validate_file(actor, data, filename)
    if mode == "validate" or (mode == "commit" and report.has_errors) or not report.groups:
        return report
    try:
        report.created = _write(actor, report, filename, mode)
    except IntegrityError:  # someone saved the same tax id between validation and commit
        raise ValidationFailed(
            _("Another user saved a customer with one of these tax ids meanwhile. Check the file again."),
            errors={"tax_id": [_("Tax id already in use.")]},
        ) from None
    report.committed = True
    return report


def _reserve_numbers(count):
    """``count`` consecutive customer numbers, taken inside the caller's transaction.

    Same counter and rules as :func:`qcare.core.numbering.next_number` (gap-free, locked
    until commit, given back on rollback), but the pattern is read once instead of once per
    number. TODO(lead): replace with ``numbering.next_numbers("customer", n)`` — one upsert
    of ``last_value + n`` — when core/numbering.py gets it.
    """
    from django.utils import timezone

    from qcare.core import numbering

    if count == 0:
        return []
    first = numbering.next_number("customer")  # checks the transaction, validates the pattern
    pattern = numbering.parse_pattern(numbering.pattern_for("customer"))
    day = timezone.localtime(timezone.now()).date()
    period = pattern.period_key(day)
    return [first] + [pattern.render(day, numbering._increment("customer", period)) for _ in range(count - 1)]


def _write(actor, report, filename, mode):
    """Bulk-write the valid groups in one transaction: numbers, rows, audit entries, event."""
    from qcare.audit.services import log_event, record_bulk_create

    with (
        transaction.atomic(),
        audit_context(actor=actor, reason=_("Import from %(file)s") % {"file": filename}),
    ):
        customers, contacts, licences = [], [], []
        for group, code in zip(report.groups, _reserve_numbers(len(report.groups)), strict=True):
            customer = _customer_of(group, code)
            own_contacts = _contacts_of(group)
            customer.search_text = search.build_search_text(customer, contacts=own_contacts)
            customers.append(customer)
            contacts.append(own_contacts)
            licences.append(_licences_of(group))
        Customer.objects.bulk_create(customers, batch_size=BATCH)
        record_bulk_create(customers, actor=actor)
        flat_contacts = _attach(customers, contacts)
        Contact.objects.bulk_create(flat_contacts, batch_size=BATCH)
        record_bulk_create(flat_contacts, actor=actor)
        flat_licences = _attach(customers, licences)
        Licence.objects.bulk_create(flat_licences, batch_size=BATCH)
        record_bulk_create(flat_licences, actor=actor)
        log_event(
            "import",
            actor=actor,
            data={
                "model": "customers.customer",
                "file": filename,
                "mode": mode,
                "rows": report.total_rows,
                "imported_rows": report.valid_rows,
                "skipped_rows": report.invalid_rows,
                "customers": len(customers),
                "contacts": len(flat_contacts),
                "licences": len(flat_licences),
                "first_code": customers[0].code,
                "last_code": customers[-1].code,
            },
        )
    return [c.pk for c in customers]


def _customer_of(group, code):
    v = group.values
    owner = v["owner"]
    return Customer(
        code=code,
        name=v["name"],
        short_name=v["short_name"],
        customer_type=v["customer_type"],
        is_foreign=v["is_foreign"],
        country=v["country"],
        region=v["region"],
        address=v["address"],
        tax_id=v["tax_id"],
        payment_terms=v["payment_terms"],
        owner=owner,
        department_id=owner.department_id,
        relationship=v["relationship"],
        value_class=v["value_class"],
        preferred_language=v["preferred_language"] or Language.ZH_HANS,
        preferred_channel=v["preferred_channel"] or Channel.EMAIL,
        notes=v["notes"],
    )


def _contacts_of(group):
    contacts, seen = [], set()
    for _rownum, values in group.rows:
        data = values["contact"]
        if not data:
            continue
        key = (data["name"], data["phone"], data["mobile"], data["email"])
        if key in seen:  # the same person repeated on several rows (e.g. with two licences)
            continue
        seen.add(key)
        contacts.append(Contact(is_primary=not contacts, **data))
    return contacts


def _licences_of(group):
    return [Licence(**values["licence"]) for _rownum, values in group.rows if values["licence"]]


def _attach(customers, children_per_customer):
    flat = []
    for customer, children in zip(customers, children_per_customer, strict=True):
        for child in children:
            child.customer = customer
            flat.append(child)
    return flat


# --------------------------------------------------------------------------- export


EXPORT_COLUMNS = (
    ("code", "客户编号", "Customer code"),
    *((c.key, c.zh, c.en) for c in COLUMNS if not c.key.startswith("licence_")),
    ("contact_personal_email", "联系人个人邮箱", "Contact personal e-mail"),
    ("contact_id_number", "联系人身份证号", "Contact ID number"),
    ("licence_status", "许可证状态", "Licence status"),
)
#: Export columns holding Contact.personal_fields (masked without customers.view_personal_data).
PERSONAL_EXPORT_COLUMNS = {
    "contact_mobile": "phone",
    "contact_personal_email": "email",
    "contact_id_number": "id",
}


def list_filters():
    """The filters of the customer list (customers:list), so an export matches the list shown.

    Uses the list screen's own definition when it provides ``qcare.customers.views.list_filters``;
    otherwise the same parameter names built from the same filter classes.
    """
    try:
        from qcare.customers.views import list_filters as screen_filters

        return screen_filters()
    except (ImportError, AttributeError):
        pass
    from qcare.core.listing import ModelFilter
    from qcare.customers.filters import DomesticFilter, LicenceStatusFilter, TextFilter

    def classes(kind):
        return Classification.objects.filter(kind=kind)

    return [
        ModelFilter(
            "type", gettext_lazy("Customer type"), classes(ClassificationKind.TYPE), field="customer_type"
        ),
        DomesticFilter(),
        TextFilter("region", gettext_lazy("Region"), "region"),
        ModelFilter(
            "relationship", gettext_lazy("Relationship class"), classes(ClassificationKind.RELATIONSHIP)
        ),
        ModelFilter(
            "value", gettext_lazy("Value class"), classes(ClassificationKind.VALUE), field="value_class"
        ),
        ModelFilter("owner", gettext_lazy("Owner"), get_user_model().objects.all()),
        LicenceStatusFilter(),
    ]


#: The list's sortable columns (customers:list ``sort``) → ORM ordering.
EXPORT_SORTS = {
    "code": "code",
    "name": "name",
    "region": "region",
    "owner": "owner__username",
    "created": "created_at",
}
#: API list parameter names (``/api/customers/``) → the screen's names.
PARAM_ALIASES = {"search": "q", "value_class": "value", "licence_status": "licence"}
CLASS_PARAMS = {
    "type": ClassificationKind.TYPE,
    "relationship": ClassificationKind.RELATIONSHIP,
    "value": ClassificationKind.VALUE,
}


def _normalise_params(params):
    """Accept both the screen's GET parameters and the API list's (codes instead of ids)."""
    data = {k: params.get(k) for k in params if k not in ("page", "page_size")}
    for alias, name in PARAM_ALIASES.items():
        if data.get(alias) and not data.get(name):
            data[name] = data.pop(alias)
    foreign = str(data.pop("is_foreign", "") or "").lower()
    if foreign and not data.get("origin"):
        data["origin"] = "foreign" if foreign in ("1", "true", "yes") else "domestic"
    for name, kind in CLASS_PARAMS.items():
        value = data.get(name)
        if value and not str(value).isdigit():
            found = Classification.objects.filter(kind=kind, code=value).values_list("pk", flat=True).first()
            data[name] = str(found) if found else value  # an unknown code fails validation below
    return data


def export_queryset(user, params):
    """``(queryset, applied filters)``: customers ``user`` may export, narrowed like the list.

    Unlike the list (which ignores a bad bookmark), an export with an invalid filter is
    refused: exporting more than the user asked for would leak data.
    """
    from django.db.models import Prefetch

    from qcare.core.listing import ListingForm
    from qcare.customers.filters import annotate_licence_status

    filters = list_filters()
    data = _normalise_params(params)
    form = ListingForm(data)
    for flt in filters:
        form.fields.update(flt.form_fields())
    if not form.is_valid():
        raise ValidationFailed(
            _("The export filters are not valid."),
            errors={k: [str(m) for m in v] for k, v in form.errors.items()},
        )
    cleaned = form.cleaned_data
    qs = annotate_licence_status(Customer.objects.restrict(user, "export"))
    term = (cleaned.get("q") or "").strip()
    if term:
        qs = search.search_customers(qs, term)
    for flt in filters:
        qs = flt.apply(qs, cleaned)
    sort = str(params.get("sort") or "code")
    field = EXPORT_SORTS.get(sort.lstrip("-"), "code")
    prefix = "-" if sort.startswith("-") and sort.lstrip("-") in EXPORT_SORTS else ""
    primary = Prefetch("contacts", queryset=Contact.objects.filter(is_primary=True), to_attr="primary")
    qs = qs.select_related("customer_type", "relationship", "value_class", "owner").prefetch_related(primary)
    applied = {k: str(getattr(v, "pk", v)) for k, v in cleaned.items() if v not in (None, "")}
    return qs.order_by(f"{prefix}{field}", f"{prefix}pk"), applied


def export_customers(actor, params):
    """The filtered customer list as xlsx bytes; logged as an export (R-CU-6). Returns (bytes, count)."""
    from qcare.audit.services import log_event

    require_perm(actor, "customers.export")
    qs, applied = export_queryset(actor, params)
    count = qs.count()
    if count > MAX_EXPORT_ROWS:
        raise ValidationFailed(
            _(
                "The list holds %(count)d customers; at most %(limit)d can be exported at once. Narrow the filters."
            )
            % {"count": count, "limit": MAX_EXPORT_ROWS}
        )
    personal = selectors.can_see_personal_data(actor)
    content = _export_xlsx(qs, personal)
    log_event(
        "export",
        actor=actor,
        data={"model": "customers.customer", "filters": applied, "count": count, "personal_data": personal},
    )
    return content, count


def _export_row(customer, personal):
    contact = customer.primary[0] if customer.primary else None
    values = {
        "code": customer.code,
        "name": customer.name,
        "short_name": customer.short_name,
        "customer_type": str(customer.customer_type),
        "origin": _("Foreign") if customer.is_foreign else _("Domestic"),
        "country": customer.country,
        "region": customer.region,
        "address": customer.address,
        "tax_id": customer.tax_id or "",
        "payment_terms": customer.payment_terms,
        "relationship": str(customer.relationship or ""),
        "value_class": str(customer.value_class or ""),
        "owner": customer.owner.username,
        "preferred_language": customer.preferred_language,
        "preferred_channel": customer.preferred_channel,
        "notes": customer.notes,
        "licence_status": str(_licence_status_label(customer.licence_status)),
    }
    if contact is not None:
        values |= {
            "contact_name": contact.name,
            "contact_title": contact.title,
            "contact_phone": contact.phone,
            "contact_mobile": contact.mobile,
            "contact_email": contact.email,
            "contact_personal_email": contact.personal_email,
            "contact_id_number": contact.id_number,
        }
    if not personal:
        for key, kind in PERSONAL_EXPORT_COLUMNS.items():
            values[key] = selectors.masked(values.get(key, ""), kind)
    return [values.get(key, "") for key, _zh, _en in EXPORT_COLUMNS]


def _licence_status_label(value):
    from qcare.customers.choices import LicenceStatus

    try:
        return LicenceStatus(value).label
    except ValueError:
        return value or ""


def _export_xlsx(qs, personal):
    from openpyxl import Workbook

    en = translation.get_language() == "en"
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(_("Customers"))
    sheet.append([en_text if en else zh for _key, zh, en_text in EXPORT_COLUMNS])
    for customer in qs.iterator(chunk_size=2000):
        sheet.append(_export_row(customer, personal))
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()
