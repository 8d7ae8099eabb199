"""``qcare worker``: deliver queued e-mail and run scheduled jobs until stopped."""

import signal

from django.core.management.base import BaseCommand

from qcare.notifications import scheduler
from qcare.notifications.worker import Worker


class Command(BaseCommand):
    help = "Deliver queued notifications and run scheduled jobs (any number of workers may run)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="One pass (due jobs, all due e-mail), then exit."
        )
        parser.add_argument("--sleep", type=float, default=5.0, help="Seconds to wait when nothing is due.")
        parser.add_argument("--batch", type=int, default=50, help="E-mails claimed per round trip.")
        parser.add_argument("--name", default=None, help="Worker name (default host:pid:random).")

    def handle(self, *args, once=False, sleep=5.0, batch=50, name=None, **options):
        scheduler.autodiscover()
        worker = Worker(name=name, batch=batch)
        if once:
            sent = worker.run_once()
            self.stdout.write(f"{worker.name}: {sent} e-mail(s) sent")
            return
        # SIGTERM / Ctrl-C: finish the message in hand, give back the rest of the batch, exit 0.
        signal.signal(signal.SIGTERM, worker.stop)
        signal.signal(signal.SIGINT, worker.stop)
        self.stdout.write(f"{worker.name}: started; jobs: {', '.join(sorted(scheduler.registered())) or '-'}")
        worker.run_forever(sleep=sleep)
        self.stdout.write(f"{worker.name}: stopped after sending {worker.sent_total} e-mail(s)")
