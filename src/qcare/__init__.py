"""QCare: customer-related processes for ISO 9001 / ISO 13485 certified manufacturers."""

__version__ = "0.1.0"
