"""REST endpoints of the sample record: the reference for every domain app's ``api.py``.

Mounted automatically by :mod:`qcare.api.router` when the sample app is installed. Reads go
through ``SampleRecord.objects.restrict()``; every write calls :mod:`qcare.sample.services`.
"""

from datetime import datetime
from decimal import Decimal
from typing import Literal

from django.utils import timezone
from ninja import Field, Schema

from qcare.api.crud import Resource, row_of
from qcare.api.schemas import ClientInput, ControlledUpdate, ListQuery, RecordId, money_input
from qcare.sample import services
from qcare.sample.models import SampleRecord, SampleStatus

LIST_FIELDS = (
    "id",
    "number",
    "title",
    "amount",
    "status",
    "owner",
    "department",
    "version",
    "created_at",
    "updated_at",
)

Money = money_input(14, 2)

#: Orderings a client may ask for (whitelisted: nothing else reaches ``order_by``); ties by newest.
ORDERINGS = ("number", "-number", "title", "-title", "created_at", "-created_at", "amount", "-amount")


class SampleOut(Schema):
    """One sample record as listed."""

    id: int
    number: str
    title: str
    amount: Decimal
    status: SampleStatus
    owner: int
    department: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class SignatureOut(Schema):
    """An e-signature as shown wherever the record is shown (P4)."""

    name: str
    signed_at: datetime = Field(description="in the company's time zone")
    meaning: str
    meaning_display: str
    comment: str
    is_valid: bool


class SampleDetail(SampleOut):
    """One sample record with its description, status label and signatures."""

    description: str
    status_display: str
    signatures: list[SignatureOut]


class SampleListQuery(ListQuery):
    """List filters: ``status``, ``owner``, ``ordering`` (whitelisted)."""

    status: SampleStatus | None = None
    owner: RecordId | None = None
    ordering: Literal[ORDERINGS] | None = None


class SampleCreate(ClientInput):
    title: str = Field(..., max_length=200)
    description: str = ""
    amount: Money = Decimal("0")
    department: RecordId | None = None


class SampleUpdate(ControlledUpdate):
    """Fields may be omitted (unchanged) but not null: none of them is nullable in the model."""

    title: str = Field(None, max_length=200)
    description: str = Field(None)
    amount: Money = None
    department: RecordId | None = None


class ApproveIn(ClientInput):
    password: str = Field(..., max_length=256, json_schema_extra={"format": "password"})
    comment: str = Field("", max_length=1000)


def _signatures(record):
    """The record's signatures as shown to clients, times in the company's time zone."""
    from qcare.core.signatures import signatures_for

    tz = timezone.get_default_timezone()
    return [
        {
            "name": sig.signer_full_name,
            "signed_at": timezone.localtime(sig.signed_at, tz),
            "meaning": sig.meaning,
            "meaning_display": str(sig.get_meaning_display()),
            "comment": sig.comment,
            "is_valid": bool(sig.is_valid),
        }
        for sig in signatures_for(record)
    ]


def sample_detail(record):
    """One record for retrieve/create/update/approve answers: the list row plus details."""
    data = row_of(record, LIST_FIELDS)
    data.update(
        description=record.description,
        status_display=str(record.get_status_display()),
        signatures=_signatures(record),
    )
    return data


samples = Resource(
    SampleRecord,
    "samples",
    out=SampleOut,
    detail_out=SampleDetail,
    list_fields=LIST_FIELDS,
    detail=sample_detail,
    list_query=SampleListQuery,
    search_fields=("number", "title"),
    filters={"status": "status", "owner": "owner_id"},
    orderings={o: (o, "-id") for o in ORDERINGS},
    create_in=SampleCreate,
    create=services.create_sample,
    update_in=SampleUpdate,
    update=services.update_sample,
    delete=services.delete_sample,
    tags=["samples"],
)
router = samples.router


@samples.action("approve", ApproveIn)
def approve(request, record, payload):
    """Approve by e-signature: re-enter your password (P4). A wrong password answers 400."""
    services.approve_sample(request.auth, record, password=payload.password, comment=payload.comment)
    return record
