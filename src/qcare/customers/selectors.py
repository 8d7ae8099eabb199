"""Read-side helpers of the customer file. TO BE IMPLEMENTED (helper "cust-core")."""


def visible_customers(user):
    """``(queryset, level)``: level "full" (customers.view) or "service" (customers.view_service).

    Raises NotPermitted when the user has neither.
    """
    raise NotImplementedError


def can_see_personal_data(user):
    raise NotImplementedError


def masked(value):
    """A masked display of a personal value: '138****5678', 'z***@example.com'."""
    raise NotImplementedError


def customer_360(user, customer):
    """Everything the 360 page shows, in a bounded number of queries."""
    raise NotImplementedError
