"""Services of the customer file (DESIGN rule 1). TO BE IMPLEMENTED (helper "cust-core").

Every function: check permission (require_perm, object scope → NotFound), validate with
translated ValidationFailed field errors, work in one transaction with audit_context
(actor, reason), queue notifications, refresh the search text, return the record.
"""


def create_customer(actor, *, data, contacts=()):
    """Create a customer numbered C{NNNNN}; ``data`` holds Customer fields (FKs as objects or ids)."""
    raise NotImplementedError


def update_customer(actor, customer, *, data, reason, expected_version=None):
    raise NotImplementedError


def reassign_customer(actor, customer, *, new_owner, reason):
    raise NotImplementedError


def deactivate_customer(actor, customer, *, reason):
    raise NotImplementedError


def add_contact(actor, customer, *, data):
    raise NotImplementedError


def update_contact(actor, contact, *, data, reason, expected_version=None):
    raise NotImplementedError


def deactivate_contact(actor, contact, *, reason):
    raise NotImplementedError


def add_licence(actor, customer, *, data, categories=()):
    raise NotImplementedError


def update_licence(actor, licence, *, data, reason, categories=None, expected_version=None):
    raise NotImplementedError


def check_can_sell(customer, product_categories, on_date=None):
    """SaleCheck(allowed: bool, reasons: list[str], licence: Licence | None) — R-CU-3."""
    raise NotImplementedError


def log_communication(actor, customer, *, data, notified_departments=(), follow_ups=()):
    raise NotImplementedError


def add_follow_up(actor, customer, *, description, owner, due_date, communication=None):
    raise NotImplementedError


def complete_follow_up(actor, action, *, result=""):
    raise NotImplementedError


def cancel_follow_up(actor, action, *, reason):
    raise NotImplementedError


def register_property(actor, customer, *, data):
    raise NotImplementedError


def update_property(actor, prop, *, data, reason, expected_version=None):
    raise NotImplementedError


def report_property_incident(actor, prop, *, kind, occurred_on, description, notify_contact=None):
    raise NotImplementedError


def anonymise_customer(actor, customer, *, password, request_reference, reason, username=None):
    raise NotImplementedError


def link_portal_user(actor, user, customer):
    raise NotImplementedError
