"""Settings of the complaints benchmark's gunicorn: production settings + the bench URLs."""

from qcare.settings import *  # noqa: F403
from qcare.settings import MIDDLEWARE

ROOT_URLCONF = "benchmarks.complaints_urls"
MIDDLEWARE = [*MIDDLEWARE, "benchmarks.customers_urls.BearerLoginMiddleware"]
