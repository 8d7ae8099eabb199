"""REST endpoints of the product catalogue (pattern: :mod:`qcare.sample.api`).

``/api/products/`` (list, retrieve, create, PATCH with version + reason, deactivate action,
import) and ``/api/product-categories/`` (list, retrieve). Reads go through ``restrict()``;
writes call :mod:`qcare.catalog.services`.
"""

from datetime import datetime
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Field, File, Form, Schema
from ninja.files import UploadedFile
from ninja.responses import Status

from qcare.api.crud import Resource
from qcare.api.errors import error_body
from qcare.api.imports import ImportOut, ImportRefused, read_upload
from qcare.api.schemas import ClientInput, ControlledUpdate, ErrorOut, ListQuery, RecordId
from qcare.catalog import importexport, services
from qcare.catalog.models import Product, ProductCategory

PRODUCT_FIELDS = (
    "id",
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
    "version",
    "created_at",
    "updated_at",
)
ORDERINGS = ("code", "-code", "name", "-name", "created_at", "-created_at")


class ProductOut(Schema):
    """One product as listed and retrieved."""

    id: int
    code: str
    name: str
    model: str
    category: int
    is_standard: bool
    is_regulated: bool
    registration_number: str
    manufacturer: str
    manufacturer_licence: str
    warranty_months: int
    unit: str
    is_active: bool
    notes: str
    version: int
    created_at: datetime
    updated_at: datetime


class ProductListQuery(ListQuery):
    """Filters: ``category``, ``is_standard``, ``is_regulated``, ``is_active``, ``ordering``."""

    category: RecordId | None = None
    is_standard: bool | None = None
    is_regulated: bool | None = None
    is_active: bool | None = None
    ordering: Literal[ORDERINGS] | None = None


class ProductCreate(ClientInput):
    code: str = Field(..., max_length=40)
    name: str = Field(..., max_length=200)
    model: str = Field("", max_length=200)
    category: RecordId
    is_standard: bool = True
    is_regulated: bool | None = Field(None, description="defaults to the category's")
    registration_number: str = Field("", max_length=100)
    manufacturer: str = Field("", max_length=200)
    manufacturer_licence: str = Field("", max_length=100)
    warranty_months: int = Field(12, ge=0)
    unit: str = Field("台", max_length=20)
    notes: str = ""


class ProductUpdate(ControlledUpdate):
    """Omitted fields stay unchanged; none of them is nullable."""

    code: str = Field(None, max_length=40)
    name: str = Field(None, max_length=200)
    model: str = Field(None, max_length=200)
    category: RecordId = None
    is_standard: bool = None
    is_regulated: bool = None
    registration_number: str = Field(None, max_length=100)
    manufacturer: str = Field(None, max_length=200)
    manufacturer_licence: str = Field(None, max_length=100)
    warranty_months: int = Field(None, ge=0)
    unit: str = Field(None, max_length=20)
    is_active: bool = None
    notes: str = None


class DeactivateIn(ClientInput):
    reason: str = Field(..., min_length=1, max_length=500)


class CategoryOut(Schema):
    """One product category (医疗器械分类目录 or the company's own)."""

    id: int
    code: str
    name: str
    name_en: str
    is_regulated: bool
    is_active: bool
    version: int


products = Resource(
    Product,
    "products",
    out=ProductOut,
    list_fields=PRODUCT_FIELDS,
    list_query=ProductListQuery,
    search_fields=("code", "name", "model"),
    filters={
        p: p if p != "category" else "category_id"
        for p in ("category", "is_standard", "is_regulated", "is_active")
    },
    orderings={o: (o, "id") for o in ORDERINGS},
    create_in=ProductCreate,
    create=services.create_product,
    update_in=ProductUpdate,
    update=services.update_product,
    tags=["catalog"],
)
router = products.router

categories = Resource(
    ProductCategory,
    "product-categories",
    out=CategoryOut,
    list_fields=("id", "code", "name", "name_en", "is_regulated", "is_active", "version"),
    search_fields=("code", "name", "name_en"),
    tags=["catalog"],
)
router.add_router("", categories.router)


@products.action("deactivate", DeactivateIn)
def deactivate(request, record, payload):
    """Withdraw the product from new orders (reason required). Needs ``catalog.change``."""
    return services.deactivate_product(request.auth, record, reason=payload.reason)


@router.post(
    "/products/import/",
    response={200: ImportOut, 201: ImportOut, 400: ImportRefused | ErrorOut},
    summary="Import products from xlsx or csv",
)
def import_products(
    request,
    file: File[UploadedFile],
    mode: Form[Literal["validate", "commit", "commit_valid"]] = "validate",
):
    """Validate an upload and, with ``mode=commit`` (all or nothing) or ``mode=commit_valid``
    (the valid rows only), create the products. Errors are ``{row, column, message}``."""
    report = importexport.import_file(request.auth, read_upload(file), file.name, mode=mode)
    body = report.as_dict()
    if mode == "commit" and report.has_errors:
        refused = error_body(
            _("Nothing was imported: %(count)d rows have errors.") % {"count": report.invalid_rows},
            "invalid_rows",
        )
        return Status(400, body | {"detail": refused["detail"], "code": refused["code"]})
    return Status(201 if report.created else 200, body)
