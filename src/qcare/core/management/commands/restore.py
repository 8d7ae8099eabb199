"""``qcare restore PATH``: verify a backup's checksums, then put it back.

Nothing is touched unless every file matches ``manifest.json`` (no file missing, changed or
added) and the backup was taken on the same database engine. SQLite is restored page by
page with the backup API into the live file; PostgreSQL with ``pg_restore --clean
--if-exists``. Stop the app servers and workers first (see docs/operations.md). The uploads
directory is swapped, and the previous one kept next to it as ``uploads.before-restore-…``.
"""

import json
import shutil
import sqlite3
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.utils import timezone
from django.utils.translation import gettext as _

from qcare.core.management.commands.backup import (
    MANIFEST,
    PG_FILE,
    SQLITE_FILE,
    UPLOADS,
    file_checksums,
    is_archive,
    pg_environment,
    run_pg,
    table_counts,
)


def verify_backup(folder):
    """Return the manifest if every checksum matches; raise CommandError naming each problem."""
    manifest_path = folder / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        expected = manifest["files"]
    except (OSError, ValueError, KeyError, TypeError):
        raise CommandError(
            _("%(path)s has no readable manifest.json: not a QCare backup.") % {"path": folder}
        )
    actual = file_checksums(folder)
    problems = []
    for name in sorted(set(expected) | set(actual)):
        if name not in actual:
            problems.append(_("missing: %(name)s") % {"name": name})
        elif name not in expected:
            problems.append(_("not in the manifest: %(name)s") % {"name": name})
        elif actual[name] != expected[name]:
            problems.append(_("checksum mismatch: %(name)s") % {"name": name})
    if problems:
        raise CommandError(
            _("The backup is corrupted or was modified; nothing was restored.")
            + "\n  "
            + "\n  ".join(problems)
        )
    if manifest.get("engine") != connection.vendor:
        raise CommandError(
            _("This backup was taken on %(backup)s but the configured database is %(current)s.")
            % {"backup": manifest.get("engine"), "current": connection.vendor}
        )
    return manifest


class Command(BaseCommand):
    help = "Verify the checksums of a backup made by `qcare backup`, then restore database and uploads."

    def add_arguments(self, parser):
        parser.add_argument("path", help="a .tar.gz/.tgz archive or a directory written by `qcare backup`")
        parser.add_argument("--noinput", "--no-input", action="store_false", dest="interactive")

    def handle(self, *args, path, interactive, **options):
        source = Path(path).resolve()
        if not source.exists():
            raise CommandError(_("%(path)s does not exist.") % {"path": source})
        with tempfile.TemporaryDirectory(prefix="qcare-restore-") as tmp:
            folder = self.unpack(source, Path(tmp)) if is_archive(source) else source
            manifest = verify_backup(folder)
            self.stdout.write(
                _("Checksums verified: %(count)d files OK.") % {"count": len(manifest["files"])}
            )
            if interactive and not self.confirm(manifest):
                raise CommandError(_("Restore cancelled."))
            connection.close()  # no open transaction may hold locks on the tables we replace
            self.restore_database(folder)
            self.restore_uploads(folder)
        self.report(manifest)

    def unpack(self, archive, tmp):
        try:
            with tarfile.open(archive, "r:gz") as tar:
                tar.extractall(tmp, filter="data")  # refuses absolute paths, links out of tmp, devices
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise CommandError(
                _("%(path)s is not a readable backup archive: %(error)s") % {"path": archive, "error": exc}
            )
        return tmp

    def confirm(self, manifest):
        question = _(
            "This replaces ALL data of the configured database and the uploads with the backup "
            "of %(when)s. Type 'yes' to continue: "
        ) % {"when": manifest.get("created_at")}
        return input(question).strip().lower() == "yes"

    def restore_database(self, folder):
        if connection.vendor == "sqlite":
            # immutable: read-only, no -wal/-shm files created inside the backup directory.
            source = sqlite3.connect(f"{(folder / SQLITE_FILE).as_uri()}?immutable=1", uri=True)
            target = sqlite3.connect(str(connection.settings_dict["NAME"]), timeout=30)
            try:
                # Writes through SQLite's locking and WAL, so the live file is never half-copied.
                source.backup(target)
            finally:
                target.close()
                source.close()
        else:
            args, env, name = pg_environment()
            run_pg(
                "pg_restore",
                [
                    *args,
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    "--exit-on-error",
                    "--dbname",
                    name,
                    str(folder / PG_FILE),
                ],
                env,
            )

    def restore_uploads(self, folder):
        uploads = Path(settings.MEDIA_ROOT)
        incoming = uploads.with_name(uploads.name + ".restoring")
        shutil.rmtree(incoming, ignore_errors=True)
        shutil.copytree(folder / UPLOADS, incoming)
        if uploads.exists():
            stamp = timezone.now().strftime("%Y%m%d%H%M%S")
            uploads.rename(uploads.with_name(f"{uploads.name}.before-restore-{stamp}"))
        incoming.rename(uploads)

    def report(self, manifest):
        """Print the checksum report and compare each table's row count with the manifest."""
        for name, digest in manifest["files"].items():
            if not name.startswith(UPLOADS + "/"):
                self.stdout.write(f"  sha256 {digest}  {name}  OK")
        uploads = sum(1 for name in manifest["files"] if name.startswith(UPLOADS + "/"))
        self.stdout.write(_("  %(count)d uploaded files OK") % {"count": uploads})
        now = table_counts()
        differing = [t for t, rows in manifest["tables"].items() if now.get(t) != rows]
        for table in differing:
            self.stdout.write(
                self.style.WARNING(
                    _("  table %(table)s: %(now)s rows, backup had %(then)s")
                    % {"table": table, "now": now.get(table), "then": manifest["tables"][table]}
                )
            )
        if differing:
            raise CommandError(_("Restored, but some row counts differ from the backup (see above)."))
        self.stdout.write(
            self.style.SUCCESS(
                _("Restore complete: %(tables)d tables match the backup's row counts.")
                % {"tables": len(manifest["tables"])}
            )
        )
