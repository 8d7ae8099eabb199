"""Database functions QCare needs on both engines."""

from django.db.models import FloatField, Func


class Epoch(Func):
    """A datetime column as POSIX seconds (float), computed by the database.

    Reports that do arithmetic on hundreds of thousands of instants (working hours of every
    review in a year) read these floats instead of letting Django build an aware ``datetime``
    per value, which on SQLite costs more than the query itself.
    """

    output_field = FloatField()

    def as_sqlite(self, compiler, connection, **extra):
        # Stored as UTC text; julianday() keeps the fraction of a second.
        return self.as_sql(
            compiler, connection, template="((julianday(%(expressions)s) - 2440587.5) * 86400.0)", **extra
        )

    def as_postgresql(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="EXTRACT(EPOCH FROM %(expressions)s)::double precision", **extra
        )
