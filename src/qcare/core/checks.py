"""System checks for QCare's own invariants."""
