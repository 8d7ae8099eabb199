"""Electronic signatures (P4). TO BE IMPLEMENTED (helper "core-mechanisms")."""


def sign(record, user, password, meaning, comment=""):
    """Sign ``record`` as ``user`` after re-checking ``password``; returns the Signature."""
    raise NotImplementedError
