from django.core.management import call_command


def test_settings_use_argon2_in_production():
    """Production settings hash passwords with Argon2 (tests use a fast hasher)."""
    import importlib

    import qcare.settings as prod

    importlib.reload(prod)
    assert prod.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_no_missing_migrations(db):
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)
