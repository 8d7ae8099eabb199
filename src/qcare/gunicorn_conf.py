"""Gunicorn settings used by ``scripts/start`` (``gunicorn -c src/qcare/gunicorn_conf.py``).

Sync workers, because QCare's endpoints are CPU-bound Python and threads halve their
throughput under the GIL (DESIGN, "Performance"). Everything is read from ``QCARE_*``
variables so the same file serves one laptop and several app servers behind a proxy.
"""

import os
from pathlib import Path

_data_dir = Path(os.environ.get("QCARE_DATA_DIR", "var")).resolve()
(_data_dir / "logs").mkdir(parents=True, exist_ok=True)

wsgi_app = "qcare.wsgi:application"
bind = f"{os.environ.get('QCARE_HOST', '127.0.0.1')}:{os.environ.get('QCARE_PORT', '8000')}"
workers = int(os.environ.get("QCARE_WEB_WORKERS", "2"))
worker_class = "sync"
# Long enough for a large export, short enough that a stuck request frees its worker.
timeout = int(os.environ.get("QCARE_WEB_TIMEOUT", "120"))
graceful_timeout = 20
keepalive = 5
# Recycle workers now and then so a slow leak can never take a server down.
max_requests = 5000
max_requests_jitter = 500
accesslog = str(_data_dir / "logs" / "access.log")
errorlog = str(_data_dir / "logs" / "gunicorn.log")
loglevel = os.environ.get("QCARE_LOG_LEVEL", "info").lower()
# Behind a reverse proxy the proxy's address must be trusted for X-Forwarded-* headers.
forwarded_allow_ips = os.environ.get("QCARE_FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "qcare"
