"""Fast JSON in and out, with a content-type check on request bodies.

Responses are serialised by ``pydantic_core.to_json`` (Rust, already installed with
pydantic) instead of ``json.dumps`` + DjangoJSONEncoder: it handles datetimes, decimals and
UUIDs natively and is several times faster, which is what keeps list endpoints close to a
minimal JsonResponse view. Decimals become strings, as with DjangoJSONEncoder.
"""

import json

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from ninja.parser import Parser
from ninja.renderers import BaseRenderer
from pydantic_core import to_json

from qcare.core.errors import DomainError


class UnsupportedMediaType(DomainError):
    """A request body that is not JSON (HTTP 415)."""

    status = 415
    code = "unsupported_media_type"


def _fallback(value):
    if isinstance(value, Promise):  # lazy translations
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dumps(data):
    """Serialise ``data`` to JSON bytes (non-ASCII kept as UTF-8, as Chinese clients expect)."""
    return to_json(data, fallback=_fallback)


class FastJSONRenderer(BaseRenderer):
    media_type = "application/json"
    charset = "utf-8"

    def render(self, request, data, *, response_status):
        return dumps(data)


class StrictJSONParser(Parser):
    """JSON bodies only; anything else is refused before it reaches a schema."""

    def parse_body(self, request):
        content_type = (request.content_type or "").lower()
        if content_type != "application/json" and not content_type.endswith("+json"):
            raise UnsupportedMediaType(
                _("Send the request body as JSON (Content-Type: application/json)."),
                code="unsupported_media_type",
            )
        return json.loads(request.body)
