"""Record numbering (P2): configurable patterns, a locked counter row per (type, period).

TO BE IMPLEMENTED (helper "core-mechanisms").
"""


def next_number(record_type, *, when=None):
    """Return the next number for ``record_type`` (e.g. "customer" → "C00001").

    Must be called inside the caller's ``transaction.atomic()``: the counter row stays
    locked until the caller commits, so numbers are gap-free and never reused.
    """
    raise NotImplementedError
