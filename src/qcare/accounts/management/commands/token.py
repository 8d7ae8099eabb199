"""``qcare token create USERNAME [--name N]`` / ``list [USERNAME]`` / ``revoke PREFIX``."""

from django.core.management.base import BaseCommand, CommandError

from qcare.accounts.models import ApiToken, User
from qcare.accounts.tokens import create_token, revoke_token
from qcare.core.context import audit_context


class Command(BaseCommand):
    help = "Manage API tokens: create (prints the token once), list, revoke."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a token for USERNAME and print it once.")
        create.add_argument("username")
        create.add_argument("--name", default="cli")
        lister = sub.add_parser("list", help="List tokens (never the secrets).")
        lister.add_argument("username", nargs="?")
        revoke = sub.add_parser("revoke", help="Revoke the token with PREFIX.")
        revoke.add_argument("prefix")

    def handle(self, *args, action, **options):
        getattr(self, f"_{action}")(**options)

    def _create(self, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        if not user.is_active:
            raise CommandError(f"User {username!r} is not active.")
        with audit_context(reason="qcare token create"):
            _token, raw = create_token(user, name)
        self.stdout.write(raw)

    def _list(self, username=None, **options):
        tokens = ApiToken.objects.select_related("user")
        if username:
            tokens = tokens.filter(user__username=username)
        for t in tokens:
            state = "revoked" if t.revoked_at else ("active" if t.is_active else "expired")
            used = t.last_used_at.isoformat() if t.last_used_at else "-"
            self.stdout.write(f"{t.prefix}  {t.user.username}  {t.name}  {state}  last used {used}")

    def _revoke(self, prefix, **options):
        token = ApiToken.objects.filter(prefix=prefix).first()
        if token is None:
            raise CommandError(f"No token with prefix {prefix!r}.")
        with audit_context(reason="qcare token revoke"):
            revoke_token(token)
        self.stdout.write(f"Revoked {prefix}.")
