"""Customer search (Chinese and Latin). TO BE IMPLEMENTED (helper "cust-search")."""


def build_search_text(customer, contacts=None):
    """The text the index covers: code, name, short name, tax id, contact names and phones."""
    raise NotImplementedError


def refresh_search_text(customer):
    """Recompute and store ``customer.search_text`` (services call it after every change)."""
    raise NotImplementedError


def search_customers(queryset, term):
    """``queryset`` narrowed to customers matching ``term`` (index-backed on both databases)."""
    raise NotImplementedError
