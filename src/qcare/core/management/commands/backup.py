"""``qcare backup PATH``: a consistent, checksummed copy of the database and the uploads.

SQLite is copied with the online backup API (safe while the server runs); PostgreSQL with
``pg_dump -Fc``. PATH ending in ``.tar.gz``/``.tgz`` gives one archive, anything else a
directory. ``manifest.json`` lists the SHA-256 of every file, the app version, the applied
migrations and the row count of every table; ``qcare restore`` checks it before touching
anything. The helpers here are shared with the restore command.
"""

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

import qcare

MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
UPLOADS = "uploads"
FORMAT_VERSION = 1


def is_archive(path):
    return str(path).endswith((".tar.gz", ".tgz"))


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def file_checksums(root):
    """{relative path: sha256} of every file under ``root`` except the manifest."""
    root = Path(root)
    return {
        path.relative_to(root).as_posix(): sha256_of(path)
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.relative_to(root).as_posix() != MANIFEST
    }


def table_counts():
    """Row count of every table of the current database (quoted names: no injection)."""
    counts = {}
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names(cursor)):
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")  # noqa: S608
            counts[table] = cursor.fetchone()[0]
    return counts


def applied_migrations():
    from django.db.migrations.recorder import MigrationRecorder

    return sorted(f"{app}.{name}" for app, name in MigrationRecorder(connection).applied_migrations())


def pg_environment():
    """Command-line arguments and environment for pg_dump/pg_restore from the Django settings.

    The password goes through PGPASSWORD only, so it never shows in ``ps`` or in output.
    """
    db = connection.settings_dict
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])
    args = []
    for flag, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if db.get(key):
            args += [flag, str(db[key])]
    return args, env, db["NAME"]


def pg_tool(name):
    """Path of pg_dump/pg_restore: PATH first, then the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), key=lambda p: int(p.parts[-3]))
    if candidates:
        return str(candidates[-1])
    raise CommandError(_("%(tool)s was not found; install the PostgreSQL client tools.") % {"tool": name})


def run_pg(tool, args, env):
    result = subprocess.run([pg_tool(tool), *args], env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CommandError(f"{tool} failed: {result.stderr.strip()}")


class Command(BaseCommand):
    help = "Back up the database and the uploaded files to PATH (.tar.gz or a directory), with checksums."

    def add_arguments(self, parser):
        parser.add_argument("path", help="target: a .tar.gz/.tgz file or a new (or empty) directory")

    def handle(self, *args, path, **options):
        target = Path(path).resolve()
        if target.exists() and (is_archive(target) or any(target.iterdir())):
            raise CommandError(_("%(path)s already exists; choose a new path.") % {"path": target})
        with tempfile.TemporaryDirectory(prefix="qcare-backup-") as tmp:
            staging = Path(tmp) / "backup"
            staging.mkdir()
            self.dump_database(staging)
            self.copy_uploads(staging)
            manifest = self.write_manifest(staging)
            if is_archive(target):
                target.parent.mkdir(parents=True, exist_ok=True)
                with tarfile.open(target, "w:gz") as archive:
                    for item in sorted(staging.iterdir()):
                        archive.add(item, arcname=item.name)
            else:
                target.mkdir(parents=True, exist_ok=True)
                for item in staging.iterdir():
                    shutil.move(str(item), target / item.name)
        total_rows = sum(manifest["tables"].values())
        self.stdout.write(
            self.style.SUCCESS(
                _("Backup written to %(path)s: %(files)d files, %(tables)d tables, %(rows)d rows.")
                % {
                    "path": target,
                    "files": len(manifest["files"]),
                    "tables": len(manifest["tables"]),
                    "rows": total_rows,
                }
            )
        )
        for name, digest in manifest["files"].items():
            if not name.startswith(UPLOADS + "/"):
                self.stdout.write(f"  sha256 {digest}  {name}")

    def dump_database(self, staging):
        if connection.vendor == "sqlite":
            source = sqlite3.connect(str(connection.settings_dict["NAME"]))
            destination = sqlite3.connect(str(staging / SQLITE_FILE))
            try:
                # Pages are copied under SQLite's own locking: a consistent snapshot even
                # while the server and the worker keep writing.
                source.backup(destination)
            finally:
                destination.close()
                source.close()
        elif connection.vendor == "postgresql":
            args, env, name = pg_environment()
            run_pg(
                "pg_dump", [*args, "--format=custom", f"--file={staging / PG_FILE}", "--dbname", name], env
            )
        else:
            raise CommandError(_("Backups are not supported on %(vendor)s.") % {"vendor": connection.vendor})

    def copy_uploads(self, staging):
        uploads = Path(settings.MEDIA_ROOT)
        if uploads.is_dir():
            shutil.copytree(uploads, staging / UPLOADS)
        else:
            (staging / UPLOADS).mkdir()

    def write_manifest(self, staging):
        manifest = {
            "format": FORMAT_VERSION,
            "app": "qcare",
            "app_version": qcare.__version__,
            "created_at": timezone.now().isoformat(),
            "engine": connection.vendor,
            "migrations": applied_migrations(),
            "tables": table_counts(),
            "files": file_checksums(staging),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        return manifest
