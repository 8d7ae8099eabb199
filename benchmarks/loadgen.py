"""A bounded-time HTTP load generator for loopback benchmarks.

Uses ``wrk`` when it is installed (apt-get install wrk). Otherwise a small Python
equivalent: N processes (not threads, so the generator is not throttled by the GIL), each
with one keep-alive connection sending requests back to back until the deadline — the
same closed-loop model as wrk. Being Python it costs more CPU than wrk, and on a 2-core
machine it competes with the server, so absolute req/s are lower than wrk's; the ratios,
measured with the same tool in the same run, are what the benchmark reports.
"""

import http.client
import multiprocessing
import re
import shutil
import subprocess
import time
from urllib.parse import urlsplit


def run(url, token, *, duration=10.0, connections=8):
    """Load ``url`` for ``duration`` seconds; returns requests, errors, requests_per_s and tool."""
    if shutil.which("wrk"):
        return _run_wrk(url, token, duration, connections)
    return _run_python(url, token, duration, connections)


def _run_wrk(url, token, duration, connections):
    threads = max(1, min(2, connections))
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return {
        "tool": "wrk",
        "requests": requests,
        "errors": int(errors.group(1)) if errors else 0,
        "requests_per_s": rate,
    }


def _client(args):
    url, token, deadline = args
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = {"Authorization": f"Bearer {token}", "Connection": "keep-alive"}
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    done = errors = 0
    while time.monotonic() < deadline:
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                errors += 1
            if response.will_close:
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        done += 1
    conn.close()
    return done, errors


def _run_python(url, token, duration, connections):
    # A short warm-up so worker start-up and first-connection costs are not measured.
    _client((url, token, time.monotonic() + 0.3))
    with multiprocessing.get_context("fork").Pool(connections) as pool:
        started = time.monotonic()
        deadline = started + duration
        results = pool.map(_client, [(url, token, deadline)] * connections)
        elapsed = time.monotonic() - started
    requests = sum(done for done, _ in results)
    return {
        "tool": "python-loadgen",
        "requests": requests,
        "errors": sum(errors for _, errors in results),
        "requests_per_s": round(requests / elapsed, 1),
    }
