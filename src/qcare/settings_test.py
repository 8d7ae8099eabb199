"""Test settings: the production settings plus the sample app and a fast password hasher."""

import os

os.environ.setdefault("QCARE_ENABLE_SAMPLE_APP", "1")

from qcare.settings import *  # noqa: E402,F403
from qcare.settings import DATABASES, INSTALLED_APPS  # noqa: E402

if "qcare.sample" not in INSTALLED_APPS:
    INSTALLED_APPS.append("qcare.sample")

# Argon2 is the production hasher (asserted by a test); tests hash thousands of passwords.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATABASES["default"]["CONN_MAX_AGE"] = 0
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405  (WhiteNoise warns when it is missing)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file database so that threads in concurrency tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test_{os.getpid()}.sqlite3")}  # noqa: F405
AXES_ENABLED = True
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
