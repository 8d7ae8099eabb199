"""A loopback SMTP server that records what it receives (tests and the benchmark).

Uses aiosmtpd (a test/benchmark dependency), imported only when a server is started.
"""

import email
import email.policy
import socket
import threading


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RecordingSMTPServer:
    """Accepts every message on 127.0.0.1:<port> and keeps it; can be stopped and restarted."""

    def __init__(self, port=None):
        self.port = port or free_port()
        self.messages = []  # email.message.EmailMessage objects, in arrival order
        self._lock = threading.Lock()
        self._controller = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's hook name
        message = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.messages.append(message)
        return "250 Message accepted for delivery"

    def start(self):
        from aiosmtpd.controller import Controller

        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def settings(self):
        """Django settings that point the SMTP backend at this server."""
        return {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": self.port,
            "EMAIL_USE_TLS": False,
            "EMAIL_USE_SSL": False,
            "EMAIL_HOST_USER": "",
            "EMAIL_HOST_PASSWORD": "",
            "EMAIL_TIMEOUT": 5,
        }

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
