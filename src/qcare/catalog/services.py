"""Services of the product catalogue (DESIGN rule 1): every write goes through here.

Each function checks ``catalog.change``, validates with translated field errors, writes in
one transaction with the actor (and reason) bound for the audit trail, and returns.
"""

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from qcare.accounts.permissions import require_perm
from qcare.catalog.models import Product, ProductCategory
from qcare.core.context import audit_context
from qcare.core.errors import Conflict, ReasonRequired, ValidationFailed

PRODUCT_FIELDS = (
    "code",
    "name",
    "model",
    "category",
    "is_standard",
    "is_regulated",
    "registration_number",
    "manufacturer",
    "manufacturer_licence",
    "warranty_months",
    "unit",
    "is_active",
    "notes",
)
TEXT_FIELDS = ("code", "name", "model", "registration_number", "manufacturer", "manufacturer_licence", "unit")
#: Upper bound of a warranty: longer periods are typing errors (50 years), not contracts.
MAX_WARRANTY_MONTHS = 600
CATEGORY_FIELDS = ("code", "name", "name_en", "is_regulated", "is_active")


def _clean_text(data):
    for name in TEXT_FIELDS:
        if isinstance(data.get(name), str):
            data[name] = data[name].strip()
    return data


def product_errors(values, *, exclude_pk=None):
    """Field errors of a complete set of product values (also used row by row by the import)."""
    errors = {}
    required = {"code": values.get("code"), "name": values.get("name"), "category": values.get("category")}
    for name, value in required.items():
        if value in (None, ""):
            errors[name] = [_("This field is required.")]
    code = values.get("code")
    if code and Product.objects.filter(code__iexact=code).exclude(pk=exclude_pk).exists():
        errors["code"] = [_("Another product already has the code %(code)s.") % {"code": code}]
    if values.get("is_regulated"):
        # A medical device may only be sold with its registration certificate (or filing
        # certificate for class I) and the maker's licence on file (医疗器械监督管理条例).
        for name in ("registration_number", "manufacturer", "manufacturer_licence"):
            if not values.get(name):
                errors[name] = [_("Required for a medical device.")]
    months = values.get("warranty_months")
    if months is not None and not (0 <= months <= MAX_WARRANTY_MONTHS):
        errors["warranty_months"] = [
            _("The warranty must be between 0 and %(max)d months.") % {"max": MAX_WARRANTY_MONTHS}
        ]
    return errors


def _raise_if(errors):
    if errors:
        raise ValidationFailed(_("Please correct the errors below."), errors=errors)


def _require_reason(reason):
    if not (reason or "").strip():
        raise ReasonRequired()


def create_product(actor, **data):
    """Create a product; ``is_regulated`` defaults to the category's, ``unit`` to 台."""
    require_perm(actor, "catalog.change")
    unknown = set(data) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValidationFailed(errors={f: [_("Unknown field.")] for f in sorted(unknown)})
    data = _clean_text(dict(data))
    category = data.get("category")
    if data.get("is_regulated") is None and category is not None:
        data["is_regulated"] = category.is_regulated
    data.setdefault("warranty_months", 12)
    if not data.get("unit"):
        data["unit"] = "台"
    _raise_if(product_errors(data))
    with transaction.atomic(), audit_context(actor=actor):
        try:
            with transaction.atomic():
                return Product.objects.create(**{k: v for k, v in data.items() if v is not None})
        except IntegrityError:
            # Two users saving the same new code at once: the unique index decides.
            raise ValidationFailed(
                errors={
                    "code": [_("Another product already has the code %(code)s.") % {"code": data["code"]}]
                }
            ) from None


def update_product(actor, product, *, data, reason, expected_version=None):
    """Change a product (controlled: reason required; stale versions are refused)."""
    require_perm(actor, "catalog.change", product)
    _require_reason(reason)
    product.check_version(expected_version)
    unknown = set(data) - set(PRODUCT_FIELDS)
    if unknown:
        raise ValidationFailed(errors={f: [_("This field cannot be changed.")] for f in sorted(unknown)})
    data = _clean_text(dict(data))
    merged = {name: getattr(product, name) for name in PRODUCT_FIELDS} | data
    _raise_if(product_errors(merged, exclude_pk=product.pk))
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        for name, value in data.items():
            setattr(product, name, value)
        product.save()
    return product


def deactivate_product(actor, product, *, reason):
    """Withdraw a product from new orders; it stays on existing records (reason required)."""
    require_perm(actor, "catalog.change", product)
    _require_reason(reason)
    if not product.is_active:
        raise Conflict(_("This product is already inactive."))
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        product.is_active = False
        product.save(update_fields=["is_active", "version", "updated_at"])
    return product


def _category_errors(values, exclude_pk=None):
    errors = {}
    for name in ("code", "name"):
        if not (values.get(name) or "").strip():
            errors[name] = [_("This field is required.")]
    code = (values.get("code") or "").strip()
    if code and ProductCategory.objects.filter(code__iexact=code).exclude(pk=exclude_pk).exists():
        errors["code"] = [_("Another category already has the code %(code)s.") % {"code": code}]
    return errors


def create_category(actor, **data):
    """Add a company-specific category next to the 22 of the national classification."""
    require_perm(actor, "catalog.change")
    data = {k: v.strip() if isinstance(v, str) else v for k, v in data.items() if k in CATEGORY_FIELDS}
    _raise_if(_category_errors(data))
    with transaction.atomic(), audit_context(actor=actor):
        return ProductCategory.objects.create(**data)


def update_category(actor, category, *, data, reason, expected_version=None):
    """Rename or (de)activate a category; a reason is required for the audit trail."""
    require_perm(actor, "catalog.change", category)
    _require_reason(reason)
    category.check_version(expected_version)
    data = {k: v.strip() if isinstance(v, str) else v for k, v in data.items() if k in CATEGORY_FIELDS}
    merged = {name: getattr(category, name) for name in CATEGORY_FIELDS} | data
    _raise_if(_category_errors(merged, exclude_pk=category.pk))
    with transaction.atomic(), audit_context(actor=actor, reason=reason):
        for name, value in data.items():
            setattr(category, name, value)
        category.save()
    return category
