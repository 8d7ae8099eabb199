"""Two users saving the same new product code at once: one product, one field error."""

import threading

import pytest
from django.db import connection

from qcare.catalog import services
from qcare.catalog.models import Product
from qcare.core.errors import ValidationFailed


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_R_CAT_concurrent_same_code_creates_one_product(reviewer_rnd, quality_engineer, categories):
    barrier = threading.Barrier(2)
    outcomes = []

    def create(user):
        try:
            barrier.wait()
            services.create_product(
                user, code="JX-9999", name="监护仪", category=categories["07"],
                registration_number="粤械注准1", manufacturer="康禾", manufacturer_licence="粤许1",
            )  # fmt: skip
            outcomes.append("created")
        except ValidationFailed as exc:
            outcomes.append(sorted(exc.errors))
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(u,)) for u in (reviewer_rnd, quality_engineer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(map(str, outcomes)) == ["['code']", "created"]
    assert Product.objects.filter(code="JX-9999").count() == 1
