"""R-IF-2: the API shell — schema, auth, errors, pagination, scope, locking, mass assignment."""

import json
import logging
import re

import pytest
from django.middleware.csrf import _get_new_csrf_string
from django.test import Client

from qcare.sample.models import SampleRecord, SampleStatus
from tests.api.conftest import PASSWORD, make_record, make_user, token_for

JSON = "application/json"


def body(response):
    return json.loads(response.content)


def assert_error_format(response, status, code=None):
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(JSON)
    data = body(response)
    assert set(data) >= {"detail", "code", "errors"}
    assert isinstance(data["detail"], str) and data["detail"]
    assert isinstance(data["errors"], dict)
    if code:
        assert data["code"] == code
    return data


# --- schema and docs -----------------------------------------------------------------------
def test_R_IF_2_schema_is_openapi3_and_lists_samples(db):
    response = Client().get("/api/schema/")
    assert response.status_code == 200
    schema = body(response)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert {
        "/api/samples/",
        "/api/samples/{pk}/",
        "/api/samples/{pk}/approve/",
        "/api/samples/{pk}/history/",
    } <= set(paths)
    assert set(paths["/api/samples/"]) == {"get", "post"}
    assert set(paths["/api/samples/{pk}/"]) == {"get", "patch", "delete"}
    list_params = {p["name"] for p in paths["/api/samples/"]["get"]["parameters"]}
    assert {"page", "page_size", "search", "status", "owner", "ordering"} <= list_params
    schemes = schema["components"]["securitySchemes"]
    kinds = {(s["type"], s.get("scheme"), s.get("in")) for s in schemes.values()}
    assert ("http", "bearer", None) in kinds and ("apiKey", None, "cookie") in kinds
    assert not any("_bench" in p for p in paths)
    assert body(Client().get("/api/"))["schema"].endswith("/api/schema/")
    # server-owned fields are not part of any input schema
    create = schema["components"]["schemas"]["SampleCreate"]
    assert create.get("additionalProperties") is False
    assert not {"id", "number", "version", "status", "owner", "created_at"} & set(create["properties"])


def test_R_IF_2_docs_load_assets_from_static_only(db):
    response = Client().get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls and all(u.startswith("/static/") for u in urls), urls
    assert "//cdn" not in html and "http://" not in html and "https://" not in html
    # every executable script is a file; the only inline <script> is JSON data (not run, CSP-safe)
    for attrs, _content in re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S):
        assert "src=" in attrs or 'type="application/json"' in attrs, attrs
    assert 'style="' not in html and "<style" not in html
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp


# --- authentication ------------------------------------------------------------------------
def test_R_IF_2_token_auth_and_401_without(manager, record):
    from qcare.accounts.models import ApiToken
    from qcare.accounts.tokens import revoke_token
    from qcare.audit.models import AuditEntry

    data = assert_error_format(Client().get("/api/samples/"), 401, "not_authenticated")
    assert data["errors"] == {}
    assert Client().get("/api/samples/")["WWW-Authenticate"].startswith("Bearer")
    bad = Client(HTTP_AUTHORIZATION="Bearer qc_nope_nope")
    assert_error_format(bad.get(f"/api/samples/{record.pk}/"), 401)
    assert_error_format(Client(HTTP_AUTHORIZATION="Basic Zm9vOmJhcg==").get("/api/samples/"), 401)

    raw = token_for(manager)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw}")
    assert client.get("/api/samples/").status_code == 200
    # unsafe methods need no CSRF token with a bearer token, and the audit actor is the token's user
    response = client.patch(
        f"/api/samples/{record.pk}/", {"title": "New", "version": 1, "reason": "typo"}, content_type=JSON
    )
    assert response.status_code == 200, response.content
    entry = AuditEntry.objects.filter(object_pk=str(record.pk), action="update").latest("seq")
    assert entry.actor_id == manager.pk and entry.reason == "typo"

    revoke_token(ApiToken.objects.get(user=manager, prefix=raw.split("_")[1]))
    assert_error_format(client.get("/api/samples/"), 401)


def test_R_IF_2_session_auth_needs_csrf(manager, record):
    client = Client(enforce_csrf_checks=True, HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(manager)
    assert client.get(f"/api/samples/{record.pk}/").status_code == 200
    payload = {"title": "Changed", "version": 1, "reason": "customer asked"}

    response = client.patch(f"/api/samples/{record.pk}/", payload, content_type=JSON)
    assert assert_error_format(response, 403, "csrf_failed")["detail"].startswith("CSRF")
    record.refresh_from_db()
    assert (record.title, record.version) == ("Pump housing", 1)

    secret = _get_new_csrf_string()
    client.cookies["csrftoken"] = secret
    response = client.patch(f"/api/samples/{record.pk}/", payload, content_type=JSON, HTTP_X_CSRFTOKEN=secret)
    assert response.status_code == 200, response.content
    assert body(response)["title"] == "Changed"
    # an anonymous unsafe request is 401 (not a CSRF 403): there is no session to protect
    assert_error_format(Client(enforce_csrf_checks=True).delete(f"/api/samples/{record.pk}/"), 401)


# --- errors --------------------------------------------------------------------------------
CJK = re.compile(r"[\u4e00-\u9fff]")


def translated(message, english):
    """English text in English; Chinese characters (and not the English text) in Chinese."""
    if english is None:
        return bool(CJK.search(message))
    return english in message


@pytest.mark.parametrize(
    ("language", "english"),
    [
        ("zh-hans", dict.fromkeys(("401", "404", "page", "extra", "json"))),
        (
            "en",
            {
                "401": "Authentication",
                "404": "Not found",
                "page": "whole number",
                "extra": "cannot be set",
                "json": "not valid JSON",
            },
        ),
    ],
)
def test_R_IF_2_error_format_translated(manager, record, language, english):
    anonymous = Client(HTTP_ACCEPT_LANGUAGE=language)
    assert translated(assert_error_format(anonymous.get("/api/samples/"), 401)["detail"], english["401"])

    client = Client(HTTP_ACCEPT_LANGUAGE=language, HTTP_AUTHORIZATION=f"Bearer {token_for(manager)}")
    data = assert_error_format(client.get("/api/samples/999999/"), 404, "not_found")
    assert translated(data["detail"], english["404"])
    assert translated(assert_error_format(client.get("/api/no-such-thing/"), 404)["detail"], english["404"])

    data = assert_error_format(client.get("/api/samples/?page=abc"), 400, "invalid")
    assert translated(data["errors"]["page"][0], english["page"])

    response = client.patch(f"/api/samples/{record.pk}/", {"number": "X", "version": 1}, content_type=JSON)
    assert translated(assert_error_format(response, 400)["errors"]["number"][0], english["extra"])

    # malformed JSON and a wrong content type are input errors too, never 500
    response = client.patch(f"/api/samples/{record.pk}/", "{oops", content_type=JSON)
    assert translated(assert_error_format(response, 400, "malformed_json")["detail"], english["json"])
    response = client.patch(
        f"/api/samples/{record.pk}/", "title=x", content_type="application/x-www-form-urlencoded"
    )
    assert_error_format(response, 415, "unsupported_media_type")
    assert_error_format(
        client.patch(f"/api/samples/{record.pk}/", "[1, 2]", content_type=JSON), 400, "invalid"
    )
    assert_error_format(client.put(f"/api/samples/{record.pk}/", "{}", content_type=JSON), 405)
    # numbers beyond what the database can hold are bad input (found by schemathesis), not a crash
    assert list(assert_error_format(client.get(f"/api/samples/?owner={10**30}"), 400)["errors"]) == ["owner"]
    assert_error_format(client.get(f"/api/samples/{10**30}/"), 404)


def test_R_IF_2_unexpected_error_is_500_without_internals(manager, record, monkeypatch):
    from qcare.sample import services

    def explode(*args, **kwargs):
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(services, "approve_sample", explode)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(manager)}", HTTP_ACCEPT_LANGUAGE="en")
    response = client.post(f"/api/samples/{record.pk}/approve/", {"password": PASSWORD}, content_type=JSON)
    data = assert_error_format(response, 500, "server_error")
    assert "hunter2" not in response.content.decode() and "Traceback" not in response.content.decode()
    assert data["request_id"] == response["X-Request-ID"]


# --- pagination, search, filters -----------------------------------------------------------
def test_R_IF_2_pagination_and_bad_page_400(api_client, manager, clerk):
    for n in range(1, 121):
        make_record(manager, n, title=f"Valve {n}" if n % 2 else f"Gear {n}")
    make_record(clerk, 1, title="Clerk's own", status=SampleStatus.APPROVED)

    first = body(api_client.get("/api/samples/?page_size=50"))
    assert (first["count"], first["page"], first["page_size"], len(first["results"])) == (121, 1, 50, 50)
    assert first["previous"] is None and "page=2" in first["next"] and "page_size=50" in first["next"]
    last = body(api_client.get("/api/samples/?page_size=50&page=3"))
    assert len(last["results"]) == 21 and last["next"] is None and "page=2" in last["previous"]
    ids = [
        r["id"] for page in (1, 2, 3) for r in body(api_client.get(f"/api/samples/?page={page}"))["results"]
    ]
    assert len(ids) == len(set(ids)) == 121 and ids == sorted(ids, reverse=True)  # default: newest first
    assert body(api_client.get("/api/samples/"))["page_size"] == 50
    assert body(api_client.get("/api/samples/?page=99"))["results"] == []

    for query, field in (
        ("page=abc", "page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page_size=0", "page_size"),
        ("page_size=201", "page_size"),
        ("page_size=1e3", "page_size"),
        ("status=closed", "status"),
        ("ordering=password", "ordering"),
        ("owner=me", "owner"),
    ):
        data = assert_error_format(api_client.get(f"/api/samples/?{query}"), 400, "invalid")
        assert list(data["errors"]) == [field], query

    assert body(api_client.get("/api/samples/?search=gear"))["count"] == 60
    assert body(api_client.get("/api/samples/?search=S-TEST"))["count"] == 121
    approved = body(api_client.get("/api/samples/?status=approved"))
    assert [r["title"] for r in approved["results"]] == ["Clerk's own"]
    assert body(api_client.get(f"/api/samples/?owner={clerk.pk}"))["count"] == 1
    by_title = body(api_client.get("/api/samples/?ordering=title&page_size=3"))["results"]
    assert [r["title"] for r in by_title] == sorted(r["title"] for r in by_title) and by_title[0][
        "title"
    ] == "Clerk's own"


# --- scope ---------------------------------------------------------------------------------
def test_R_IF_2_out_of_scope_is_404(manager, clerk, record):
    own = make_record(clerk, 7, title="Mine")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(clerk)}")
    listed = body(client.get("/api/samples/"))
    assert [r["id"] for r in listed["results"]] == [own.pk] and listed["count"] == 1
    assert client.get(f"/api/samples/{own.pk}/").status_code == 200

    url = f"/api/samples/{record.pk}/"
    assert_error_format(client.get(url), 404, "not_found")
    assert_error_format(client.get(f"{url}history/"), 404)
    assert_error_format(
        client.patch(url, {"title": "x", "version": 1, "reason": "r"}, content_type=JSON), 404
    )
    assert_error_format(client.delete(f"{url}?reason=r"), 404)
    assert_error_format(client.post(f"{url}approve/", {"password": PASSWORD}, content_type=JSON), 404)
    record.refresh_from_db()
    assert record.title == "Pump housing" and record.version == 1

    nobody = make_user("nobody")  # no sample permission at all
    nobody_client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(nobody)}")
    assert_error_format(nobody_client.get("/api/samples/"), 403, "permission_denied")
    assert_error_format(nobody_client.get(f"/api/samples/{own.pk}/"), 404)


# --- optimistic locking --------------------------------------------------------------------
def test_R_IF_2_stale_version_409_and_if_match_412(api_client, record):
    url = f"/api/samples/{record.pk}/"
    loaded = api_client.get(url)
    assert loaded["ETag"] == 'W/"1"' and body(loaded)["version"] == 1

    first = api_client.patch(url, {"title": "First", "version": 1, "reason": "r1"}, content_type=JSON)
    assert first.status_code == 200 and first["ETag"] == 'W/"2"' and body(first)["version"] == 2

    stale = api_client.patch(url, {"title": "Second", "version": 1, "reason": "r2"}, content_type=JSON)
    data = assert_error_format(stale, 409, "stale_version")
    assert "Someone else changed this record" in data["detail"]

    stale = api_client.patch(
        url, {"title": "Second", "reason": "r2"}, content_type=JSON, HTTP_IF_MATCH='W/"1"'
    )
    assert_error_format(stale, 412, "precondition_failed")
    zh = Client(HTTP_AUTHORIZATION=api_client.defaults["HTTP_AUTHORIZATION"], HTTP_ACCEPT_LANGUAGE="zh-hans")
    stale = zh.patch(url, {"title": "Second", "version": 1, "reason": "r2"}, content_type=JSON)
    assert CJK.search(assert_error_format(stale, 409)["detail"])

    missing = api_client.patch(url, {"title": "Second", "reason": "r2"}, content_type=JSON)
    assert "version" in assert_error_format(missing, 400, "version_required")["errors"]

    record.refresh_from_db()
    assert (record.title, record.version) == ("First", 2)  # nothing stale was applied

    ok = api_client.patch(url, {"title": "Second", "reason": "r2"}, content_type=JSON, HTTP_IF_MATCH='W/"2"')
    assert ok.status_code == 200 and ok["ETag"] == 'W/"3"'


# --- mass assignment -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 99),
        ("number", "S-FAKE"),
        ("status", "approved"),
        ("owner", 1),
        ("created_at", "2020-01-01T00:00:00Z"),
        ("signatures", []),
        ("audit", {}),
    ],
)
def test_R_IF_2_server_owned_fields_rejected(api_client, record, field, value):
    url = f"/api/samples/{record.pk}/"
    response = api_client.patch(
        url, {"title": "Hacked", "version": 1, "reason": "r", field: value}, content_type=JSON
    )
    data = assert_error_format(response, 400, "invalid")
    assert list(data["errors"]) == [field]
    response = api_client.post("/api/samples/", {"title": "New", field: value}, content_type=JSON)
    assert list(assert_error_format(response, 400)["errors"]) == [field]
    response = api_client.post("/api/samples/", {"title": "New", "version": 5}, content_type=JSON)
    assert list(assert_error_format(response, 400)["errors"]) == ["version"]
    record.refresh_from_db()
    assert (record.title, record.status, record.version) == ("Pump housing", SampleStatus.DRAFT, 1)
    assert SampleRecord.objects.count() == 1


# --- controlled records --------------------------------------------------------------------
def test_R_IF_2_reason_required_for_controlled_update(manager, record):
    from qcare.audit.models import AuditEntry

    url = f"/api/samples/{record.pk}/"
    zh = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(manager)}", HTTP_ACCEPT_LANGUAGE="zh-hans")
    for payload in ({"title": "No reason", "version": 1}, {"title": "Blank", "version": 1, "reason": "   "}):
        data = assert_error_format(zh.patch(url, payload, content_type=JSON), 400, "reason_required")
        assert CJK.search(data["errors"]["reason"][0])
    assert_error_format(zh.delete(url), 400, "reason_required")
    record.refresh_from_db()
    assert (record.title, record.version) == ("Pump housing", 1)

    response = zh.patch(
        url, {"title": "With reason", "version": 1, "reason": "客户要求更改"}, content_type=JSON
    )
    assert response.status_code == 200
    entry = AuditEntry.objects.filter(object_pk=str(record.pk), action="update").latest("seq")
    assert entry.reason == "客户要求更改" and entry.changes["title"] == ["Pump housing", "With reason"]
    history = body(zh.get(f"{url}history/"))
    assert history["results"][0]["reason"] == "客户要求更改" and history["results"][0]["actor"] == manager.pk

    assert zh.delete(url, json.dumps({"reason": "录入错误"}), content_type=JSON).status_code == 204
    assert not SampleRecord.objects.filter(pk=record.pk).exists()


# --- create and approve through services ---------------------------------------------------
def test_R_IF_2_create_goes_through_services(api_client, manager):
    response = api_client.post("/api/samples/", {"title": "  Bracket ", "amount": "3.50"}, content_type=JSON)
    assert response.status_code == 201, response.content
    data = body(response)
    record = SampleRecord.objects.get(pk=data["id"])
    assert data["number"] == record.number and record.number  # numbered by the service
    assert (data["title"], data["amount"], data["owner"], data["version"]) == (
        "Bracket",
        "3.50",
        manager.pk,
        1,
    )
    assert response["Location"].endswith(f"/api/samples/{record.pk}/") and response["ETag"] == 'W/"1"'
    invalid = api_client.post("/api/samples/", {"title": " ", "amount": "-1"}, content_type=JSON)
    assert set(assert_error_format(invalid, 400)["errors"]) == {"title", "amount"}


def test_R_IF_2_approve_with_wrong_password_400(manager, record, caplog):
    caplog.set_level(logging.DEBUG)  # whatever any logger writes, at any level
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(manager)}", HTTP_ACCEPT_LANGUAGE="zh-hans")
    url = f"/api/samples/{record.pk}/approve/"
    wrong = "Wrong-Password-123"
    response = client.post(url, {"password": wrong, "comment": "ok"}, content_type=JSON)
    data = assert_error_format(response, 400)
    assert CJK.search(data["detail"])
    assert wrong not in response.content.decode()
    assert wrong not in caplog.text
    record.refresh_from_db()
    assert record.status == SampleStatus.DRAFT
    assert_error_format(client.post(url, {"comment": "no password"}, content_type=JSON), 400)

    response = client.post(url, {"password": PASSWORD, "comment": "同意"}, content_type=JSON)
    assert response.status_code == 200, response.content
    data = body(response)
    assert data["status"] == "approved"
    [signature] = data["signatures"]
    assert (signature["name"], signature["meaning"], signature["is_valid"]) == ("王经理", "approved", True)
    assert signature["signed_at"].endswith("+08:00")  # shown in the company's time zone
    assert PASSWORD not in response.content.decode() and PASSWORD not in caplog.text
    again = client.post(url, {"password": PASSWORD}, content_type=JSON)
    assert_error_format(again, 409, "conflict")


# --- benchmark companion -------------------------------------------------------------------
def test_R_IF_2_minimal_bench_view_serves_the_same_rows(api_client, manager, clerk, rf):
    from qcare.api.bench_views import samples_minimal

    for n in range(1, 61):
        make_record(manager if n % 3 else clerk, n, amount=f"{n}.25")
    listed = body(api_client.get("/api/samples/"))
    request = rf.get(
        "/api/_bench/samples-minimal/", HTTP_AUTHORIZATION=api_client.defaults["HTTP_AUTHORIZATION"]
    )
    minimal = json.loads(samples_minimal(request).content)
    assert minimal["count"] == listed["count"] == 60
    assert [r["id"] for r in minimal["results"]] == [r["id"] for r in listed["results"]]
    assert minimal["results"][0].keys() == listed["results"][0].keys()
    assert minimal["results"][0]["amount"] == listed["results"][0]["amount"]

    clerk_request = rf.get("/", HTTP_AUTHORIZATION=f"Bearer {token_for(clerk)}")
    assert json.loads(samples_minimal(clerk_request).content)["count"] == 20  # the same restrict()
    assert samples_minimal(rf.get("/")).status_code == 401


@pytest.mark.postgres_only
def test_R_IF_2_database_refusing_a_value_is_400_not_500(manager, record):
    """PostgreSQL refuses NUL characters in text: bad input answers 400 in the error format."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_for(manager)}")
    response = client.patch(
        f"/api/samples/{record.pk}/",
        {"title": "bad\u0000title", "version": record.version, "reason": "r"},
        content_type=JSON,
    )
    assert response.status_code == 400, response.content
    assert body(response)["code"] == "invalid"
