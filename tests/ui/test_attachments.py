"""Attachments (issue #2 §9): checks by content, generated storage names, permission of
the parent record, download as attachment with a Chinese file name, removal with reason."""

import io
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from qcare.attachments import services
from qcare.attachments.models import Attachment
from qcare.core.errors import NotFound, NotPermitted, ReasonRequired, ValidationFailed

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00" + b"\x00" * 60


def _docx():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def _upload(name, data):
    return SimpleUploadedFile(name, data)


@pytest.fixture(autouse=True)
def _media(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "uploads"


@pytest.mark.parametrize(
    ("name", "data", "mime"),
    [
        ("检验报告.pdf", PDF, "application/pdf"),
        ("photo.PNG", PNG, "image/png"),
        ("合同.docx", _docx(), "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        ("清单.csv", "编号,名称\n1,外壳\n".encode("gbk"), "text/csv"),
        ("notes.txt", "UTF-8 文本".encode(), "text/plain"),
    ],
)
def test_accepted_types_are_detected_by_content(clerk, make_sample, name, data, mime):
    record = make_sample(clerk)
    attachment = services.upload_attachment(clerk, record, _upload(name, data))
    assert attachment.mime_type == mime and attachment.size == len(data)
    stored = Path(settings.MEDIA_ROOT) / attachment.stored_name
    assert stored.read_bytes() == data
    # Generated name: attachments/YYYY/MM/<32 hex>, nothing from the user's file name.
    parts = attachment.stored_name.split("/")
    assert parts[0] == "attachments" and len(parts) == 4 and len(parts[3]) == 32
    assert name not in attachment.stored_name


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("report.pdf", EXE),  # executable disguised as PDF
        ("image.png", PDF),  # content and extension disagree
        ("virus.exe", EXE),  # not an accepted kind
        ("fake.docx", b"PK\x03\x04" + b"\x00" * 40),  # broken zip named .docx
        ("data.csv", b"\x00\x01\x02binary"),  # binary "text"
    ],
)
def test_rejected_by_content_not_extension(clerk, make_sample, name, data):
    record = make_sample(clerk)
    with pytest.raises(ValidationFailed) as info:
        services.upload_attachment(clerk, record, _upload(name, data))
    assert "file" in info.value.errors
    assert not Attachment.objects.exists()
    assert not [p for p in Path(settings.MEDIA_ROOT).rglob("*") if p.is_file()]  # nothing stored


def test_size_limit(clerk, make_sample, settings):
    settings.MAX_UPLOAD_BYTES = 10
    with pytest.raises(ValidationFailed):
        services.upload_attachment(clerk, make_sample(clerk), _upload("a.pdf", PDF))


def test_empty_file_is_refused(clerk, make_sample):
    with pytest.raises(ValidationFailed):
        services.upload_attachment(clerk, make_sample(clerk), _upload("a.txt", b""))


def test_path_in_file_name_is_dropped(clerk, make_sample):
    attachment = services.upload_attachment(clerk, make_sample(clerk), _upload("../../etc/报告.pdf", PDF))
    assert attachment.original_name == "报告.pdf"


def test_P7_upload_needs_change_on_parent(make_user, make_sample):
    owner = make_user()
    record = make_sample(owner)
    viewer = make_user(perms=("sample.view",))
    with pytest.raises(NotPermitted):
        services.upload_attachment(viewer, record, _upload("a.pdf", PDF))
    stranger = make_user(perms=("sample.view", "sample.change"), scope="own")
    with pytest.raises(NotFound):
        services.upload_attachment(stranger, record, _upload("a.pdf", PDF))


def test_upload_and_download_through_the_screens(clerk_client, clerk, make_sample):
    record = make_sample(clerk)
    detail = reverse("sample:detail", args=[record.pk]) + "?tab=attachments"
    page = clerk_client.get(detail).content.decode()
    assert 'enctype="multipart/form-data"' in page
    upload_url = reverse("attachments:upload", args=[_ct(record), record.pk])
    response = clerk_client.post(upload_url, {"file": _upload("质量报告 2026.pdf", PDF), "next": detail})
    assert response.status_code == 302 and response["Location"] == detail
    attachment = Attachment.objects.get()
    response = clerk_client.get(reverse("attachments:download", args=[attachment.pk]))
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == PDF
    disposition = response["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert f"filename*=utf-8''{quote('质量报告 2026.pdf')}" in disposition
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/pdf"


def test_rejected_upload_shows_message_on_record_page(clerk_client, clerk, make_sample):
    record = make_sample(clerk)
    detail = reverse("sample:detail", args=[record.pk]) + "?tab=attachments"
    upload_url = reverse("attachments:upload", args=[_ct(record), record.pk])
    response = clerk_client.post(upload_url, {"file": _upload("x.pdf", EXE), "next": detail}, follow=True)
    assert "不接受此类文件" in response.content.decode()


def test_htmx_upload_returns_the_panel_with_errors(clerk_client, clerk, make_sample):
    record = make_sample(clerk)
    upload_url = reverse("attachments:upload", args=[_ct(record), record.pk])
    html = clerk_client.post(
        upload_url, {"file": _upload("x.png", PDF)}, headers={"HX-Request": "true"}
    ).content.decode()
    assert html.startswith('<div id="qc-attachments"') and "不符" in html


def test_open_redirect_is_refused(clerk_client, clerk, make_sample):
    record = make_sample(clerk)
    upload_url = reverse("attachments:upload", args=[_ct(record), record.pk])
    response = clerk_client.post(upload_url, {"file": _upload("a.pdf", PDF), "next": "https://evil.example/"})
    assert response["Location"] == reverse("core:dashboard")


def test_P7_download_outside_scope_is_404(client, clerk, make_user, make_sample):
    attachment = services.upload_attachment(clerk, make_sample(clerk), _upload("a.pdf", PDF))
    client.force_login(make_user(perms=("sample.view",), scope="own"))
    assert client.get(reverse("attachments:download", args=[attachment.pk])).status_code == 404
    client.force_login(make_user())
    assert client.get(reverse("attachments:download", args=[attachment.pk])).status_code == 404


def test_P3_remove_needs_reason_and_keeps_the_file(clerk_client, clerk, make_sample):
    record = make_sample(clerk)
    attachment = services.upload_attachment(clerk, record, _upload("a.pdf", PDF))
    with pytest.raises(ReasonRequired):
        services.remove_attachment(clerk, attachment, reason=" ")
    url = reverse("attachments:remove", args=[attachment.pk])
    assert 'name="reason"' in clerk_client.get(url).content.decode()
    response = clerk_client.post(url, {"reason": "上传错了文件", "next": "/sample/"})
    assert response.status_code == 302
    attachment.refresh_from_db()
    assert attachment.removed_at and attachment.removed_by == clerk
    assert (Path(settings.MEDIA_ROOT) / attachment.stored_name).exists()
    assert clerk_client.get(reverse("attachments:download", args=[attachment.pk])).status_code == 404
    assert not Attachment.objects.for_object(record).exists()


def _ct(obj):
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(obj).pk
