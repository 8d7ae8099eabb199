"""Schemas shared by every resource: errors, pages, list parameters, client input."""

from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from ninja import Schema
from pydantic import ConfigDict, Field, WithJsonSchema

T = TypeVar("T")

#: A primary key in a query parameter: bounded, so a huge number is a 400, not a database overflow.
MAX_ID = 2**63 - 1
RecordId = Annotated[int, Field(ge=1, le=MAX_ID)]


def money_input(max_digits=14, decimal_places=2):
    """A decimal amount as clients send it: a JSON string such as ``"1234.50"`` (or a number).

    The schema documents the string form with its exact pattern, so generated clients and
    schemathesis send amounts the server can accept, and no precision is lost to floats.
    """
    whole = max_digits - decimal_places
    pattern = rf"^-?[0-9]{{1,{whole}}}(\.[0-9]{{1,{decimal_places}}})?$"
    return Annotated[
        Decimal,
        Field(max_digits=max_digits, decimal_places=decimal_places),
        WithJsonSchema({"type": "string", "pattern": pattern, "examples": ["1234.50"]}),
    ]


#: Amounts and quantities as the domain models store them (MONEY, QUANTITY columns).
Money = money_input(18, 2)
Quantity = money_input(14, 3)
#: The password of an e-signature (P4) and the user name asked on a session's first signature.
Password = Field(..., max_length=256, json_schema_extra={"format": "password"})
Username = Field(None, max_length=150, description="needed on the first signature of a session")


DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


class ErrorOut(Schema):
    """The one error format (see docs/api.md)."""

    detail: str
    code: str
    errors: dict[str, list[str]] = {}


class Page(Schema, Generic[T]):
    """A page of a list endpoint; ``next``/``previous`` are absolute URLs or null."""

    count: int
    page: int
    page_size: int
    next: str | None
    previous: str | None
    results: list[T]


class PageQuery(Schema):
    """``page`` and ``page_size``: accepted by every paginated endpoint."""

    page: int = Field(1, ge=1, description="1-based page number")
    page_size: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="rows per page (max 200)")


class ListQuery(PageQuery):
    """Query parameters every list endpoint accepts; resources subclass it to add field filters."""

    search: str | None = Field(None, max_length=200, description="free-text search")


class ClientInput(Schema):
    """Base of every input schema: only client-writable fields; anything else is refused.

    ``extra="forbid"`` is what makes the API mass-assignment safe: a client that sends
    ``number``, ``status``, ``owner`` or ``version`` where it may not gets a 400 naming
    the field (translated by :mod:`qcare.api.errors`), and nothing is applied.
    """

    model_config = ConfigDict(extra="forbid")


class VersionedUpdate(ClientInput):
    """Updates carry the version the client loaded (or send it as ``If-Match``)."""

    version: int | None = Field(None, ge=1, description="the version you loaded; or send If-Match")


class ControlledUpdate(VersionedUpdate):
    """Updates of controlled records also carry the reason for the change (P3)."""

    reason: str | None = Field(None, max_length=1000, description="why the record is changed (required)")


class ReasonIn(ClientInput):
    reason: str | None = Field(None, max_length=1000)
