"""The list-page pattern (core/listing.py) through the sample list: search, filter, sort, page."""

import datetime

from django.urls import reverse
from django.utils import timezone

URL = "/sample/"


def _numbers(response):
    return [r.number for r in response.context["listing"].page.object_list]


def test_search_by_number_and_title(clerk_client, clerk, make_sample):
    make_sample(clerk, title="外壳裂纹", number="S-0001")
    make_sample(clerk, title="包装破损", number="S-0002")
    assert _numbers(clerk_client.get(URL, {"q": "裂纹"})) == ["S-0001"]
    assert _numbers(clerk_client.get(URL, {"q": "0002"})) == ["S-0002"]


def test_filter_by_status_and_owner(clerk_client, clerk, make_user, make_sample):
    other = make_user("other")
    make_sample(clerk, number="S-A", status="approved")
    make_sample(clerk, number="S-D")
    make_sample(other, number="S-O")
    assert _numbers(clerk_client.get(URL, {"status": "approved"})) == ["S-A"]
    assert _numbers(clerk_client.get(URL, {"owner": other.pk})) == ["S-O"]


def test_filter_by_created_date_range_is_inclusive(clerk_client, clerk, make_sample):
    from qcare.sample.models import SampleRecord

    old, new = make_sample(clerk, number="S-OLD"), make_sample(clerk, number="S-NEW")
    SampleRecord.objects.filter(pk=old.pk).update(created_at=timezone.now() - datetime.timedelta(days=40))
    today = timezone.localdate().isoformat()
    assert _numbers(clerk_client.get(URL, {"created_from": today, "created_to": today})) == [new.number]


def test_sort_is_whitelisted_and_reversible(clerk_client, clerk, make_sample):
    make_sample(clerk, number="S-B", title="b")
    make_sample(clerk, number="S-A", title="a")
    assert _numbers(clerk_client.get(URL, {"sort": "title"})) == ["S-A", "S-B"]
    assert _numbers(clerk_client.get(URL, {"sort": "-title"})) == ["S-B", "S-A"]
    # Not a column: ignored (no ordering by arbitrary fields such as owner__password).
    response = clerk_client.get(URL, {"sort": "owner__password"})
    assert response.status_code == 200 and response.context["listing"].sort == "-number"


def test_pagination_with_page_size_choices(clerk_client, clerk, make_sample):
    for _ in range(30):
        make_sample(clerk)
    first = clerk_client.get(URL)
    assert len(first.context["listing"].page.object_list) == 25 and first.context["listing"].count == 30
    second = clerk_client.get(URL, {"page": 2})
    assert len(second.context["listing"].page.object_list) == 5
    assert len(clerk_client.get(URL, {"page_size": 50}).context["listing"].page.object_list) == 30
    # A page size that is not offered falls back to the default instead of failing.
    assert len(clerk_client.get(URL, {"page_size": 100000}).context["listing"].page.object_list) == 25


def test_htmx_request_gets_only_the_table(clerk_client, clerk, make_sample):
    make_sample(clerk, title="片段")
    html = clerk_client.get(URL, headers={"HX-Request": "true", "HX-Target": "qc-listing"}).content.decode()
    assert html.lstrip().startswith('<div id="qc-listing"') and "<html" not in html and "片段" in html
    full = clerk_client.get(URL).content.decode()
    assert "<html" in full and 'hx-target="#qc-listing"' in full


def test_empty_state_and_count(clerk_client, db):
    html = clerk_client.get(URL, {"q": "不存在"}).content.decode()
    assert 'data-testid="empty-state"' in html and "共 0 条记录" in html


def test_P7_list_shows_only_records_in_scope(client, make_user, make_sample):
    from qcare.accounts.models import Department

    quality, sales = (
        Department.objects.get_or_create(code="q-ui", defaults={"name": "品质部"})[0],
        Department.objects.get_or_create(code="s-ui", defaults={"name": "销售部"})[0],
    )
    viewer = make_user(perms=("sample.view",), scope="department", department=quality)
    mine = make_sample(make_user(department=quality), number="S-MINE")
    make_sample(make_user(department=sales), number="S-THEIRS")
    client.force_login(viewer)
    assert _numbers(client.get(URL)) == [mine.number]
    assert client.get(reverse("sample:detail", args=[mine.pk])).status_code == 200
