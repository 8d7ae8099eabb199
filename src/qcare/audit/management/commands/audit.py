"""``qcare audit verify [--from-seq N]`` checks the hash chain of the audit trail.

``qcare audit generate-test-chain N`` (hidden; benchmarks and tests only) appends N
synthetic entries with valid hashes using bulk inserts.
"""

import argparse
import time

from django.core.management.base import BaseCommand, CommandError

from qcare.audit.verify import verify_chain


class Command(BaseCommand):
    help = "Audit trail tools: verify the hash chain."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="Walk the chain and report the first broken entry.")
        verify.add_argument("--from-seq", type=int, default=1, help="Start at this sequence number.")
        verify.add_argument("--batch-size", type=int, default=20000, help=argparse.SUPPRESS)
        generate = sub.add_parser("generate-test-chain", help=argparse.SUPPRESS)
        generate.add_argument("count", type=int)
        generate.add_argument("--batch-size", type=int, default=20000)

    def handle(self, *args, subcommand, **options):
        if subcommand == "generate-test-chain":
            return self.generate(options["count"], options["batch_size"])
        return self.verify(options["from_seq"], options["batch_size"])

    def verify(self, from_seq, batch_size):
        started = time.perf_counter()
        result = verify_chain(from_seq=from_seq, batch_size=batch_size)
        seconds = time.perf_counter() - started
        if not result.ok:
            p = result.problem
            raise CommandError(
                f"FAILED ({p.kind}): {p.message} [seq={p.seq} id={p.entry_id} at={p.at} object={p.obj!r}] "
                f"after {result.checked} valid entries",
                returncode=1,
            )
        rate = result.checked / seconds if seconds > 0 else 0
        self.stdout.write(
            f"OK: {result.checked} entries verified in {seconds:.2f} s ({rate:,.0f} entries/s); "
            f"head seq={result.head_seq} hash={result.head_hash}"
        )

    def generate(self, count, batch_size):
        from qcare.audit.chain import generate_test_chain

        started = time.perf_counter()
        made = generate_test_chain(count, batch_size=batch_size)
        seconds = time.perf_counter() - started
        self.stdout.write(f"generated {made} entries in {seconds:.1f} s")
