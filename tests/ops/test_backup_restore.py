"""Backup and restore round trips (issue section 11): data comes back, checksums are checked."""

import json
import shutil
import tarfile
from decimal import Decimal
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError
from django.db import connection
from django.utils import translation

from qcare.accounts.models import Department, User
from qcare.core.context import audit_context
from qcare.sample.models import SampleRecord
from tests.conftest import skip_or_fail


@pytest.fixture(autouse=True)
def english():
    """Messages are asserted in English (the msgids); the CLI prints Chinese by default."""
    with translation.override("en"):
        yield


@pytest.fixture
def uploads(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "uploads")
    folder = Path(settings.MEDIA_ROOT)
    (folder / "2026" / "11").mkdir(parents=True)
    (folder / "2026" / "11" / "报告.pdf").write_bytes(b"%PDF-1.4 original")
    return folder


def make_data():
    """A department, a user and audited sample records (through the ORM: writes the audit chain)."""
    department = Department.objects.create(code="qa_test", name="品质部测试")
    user = User.objects.create(username="backup_user", first_name="备份", department=department)
    for i in range(3):
        SampleRecord.objects.create(number=f"BK{i}", title=f"记录 {i}", amount=Decimal(i), owner=user)
    return user


def damage(user, uploads):
    with audit_context(actor=user, reason="test: change data after the backup"):
        record = SampleRecord.objects.get(number="BK0")
        record.title = "changed after backup"
        record.save()
        SampleRecord.objects.get(number="BK2").delete()
    (uploads / "2026" / "11" / "报告.pdf").write_bytes(b"overwritten")


def audit_verify_ok():
    """`qcare audit verify` passes (skipped while the audit command does not exist yet)."""
    if "audit" not in get_commands():
        return
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    assert out.getvalue().startswith("OK")


def audit_entries():
    """Number of audit entries (None while the audit app has no model yet)."""
    try:
        from qcare.audit.models import AuditEntry
    except ImportError:
        return None
    return AuditEntry.objects.count()


def roundtrip(tmp_path, uploads, target_name):
    user = make_data()
    entries_at_backup = audit_entries()
    assert entries_at_backup is None or entries_at_backup > 0, "creates should have written an audit chain"
    audit_verify_ok()
    target = tmp_path / target_name
    call_command("backup", str(target), stdout=StringIO())
    damage(user, uploads)

    out = StringIO()
    call_command("restore", str(target), "--noinput", stdout=out)

    assert sorted(SampleRecord.objects.values_list("number", "title")) == [
        ("BK0", "记录 0"),
        ("BK1", "记录 1"),
        ("BK2", "记录 2"),
    ]
    assert (uploads / "2026" / "11" / "报告.pdf").read_bytes() == b"%PDF-1.4 original"
    assert "OK" in out.getvalue() and "Restore complete" in out.getvalue()
    assert audit_entries() == entries_at_backup  # the entries written by damage() are gone
    audit_verify_ok()
    return target


@pytest.mark.sqlite_only
@pytest.mark.django_db(transaction=True)
def test_backup_restore_roundtrip_sqlite(tmp_path, uploads):
    target = roundtrip(tmp_path, uploads, "qcare-backup.tar.gz")
    with tarfile.open(target) as archive:
        names = archive.getnames()
    assert {"manifest.json", "database.sqlite3"} <= set(names)


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_backup_restore_roundtrip_postgresql(tmp_path, uploads):
    from qcare.core.management.commands.backup import pg_tool

    try:
        pg_tool("pg_dump"), pg_tool("pg_restore")
    except CommandError as exc:
        skip_or_fail(str(exc))
    roundtrip(tmp_path, uploads, "qcare-backup-dir")
    assert (tmp_path / "qcare-backup-dir" / "database.pgdump").is_file()


@pytest.mark.django_db(transaction=True)
def test_backup_manifest_lists_checksums_version_migrations_and_counts(tmp_path, uploads):
    make_data()
    call_command("backup", str(tmp_path / "b"), stdout=StringIO())
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["engine"] == connection.vendor
    assert manifest["app_version"]
    assert "sample.0001_initial" in manifest["migrations"]
    assert manifest["tables"]["sample_samplerecord"] == 3
    assert set(manifest["files"]) >= {"uploads/2026/11/报告.pdf"}
    assert all(len(digest) == 64 for digest in manifest["files"].values())


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_corrupted_backup_and_changes_nothing(tmp_path, uploads):
    make_data()
    call_command("backup", str(tmp_path / "b"), stdout=StringIO())
    SampleRecord.objects.filter(number="BK1").update(title="after backup")
    (tmp_path / "b" / "uploads" / "2026" / "11" / "报告.pdf").write_bytes(b"tampered")

    with pytest.raises(CommandError, match="checksum mismatch: uploads/2026/11/报告.pdf"):
        call_command("restore", str(tmp_path / "b"), "--noinput", stdout=StringIO())
    assert SampleRecord.objects.get(number="BK1").title == "after backup"


@pytest.mark.django_db(transaction=True)
def test_restore_refuses_an_archive_with_a_missing_file(tmp_path, uploads):
    make_data()
    call_command("backup", str(tmp_path / "b"), stdout=StringIO())
    shutil.rmtree(tmp_path / "b" / "uploads" / "2026")
    with pytest.raises(CommandError, match="missing: uploads/2026/11/报告.pdf"):
        call_command("restore", str(tmp_path / "b"), "--noinput", stdout=StringIO())


def test_backup_refuses_to_overwrite_an_existing_target(tmp_path, db):
    (tmp_path / "exists.tar.gz").write_bytes(b"x")
    with pytest.raises(CommandError, match="already exists"):
        call_command("backup", str(tmp_path / "exists.tar.gz"), stdout=StringIO())
