"""Inheritable permission contract for every record type (DESIGN "Tests": generic suites).

``RestrictedRecordContract`` proves, for the UI and the API alike (P7, R-IF-2):

* a user with the view permission sees their record in the list and on its detail page;
* a user whose scope does not reach the record gets 404 on the detail (UI and API) and
  does not see it in either list;
* a user without the view permission at all gets 403 on the list (UI and API).

Subclass it and supply the hooks (see tests/sample/test_sample_contracts.py)::

    class TestCustomerPermissions(RestrictedRecordContract):
        list_url_name = "customers:list"
        detail_url_name = "customers:detail"
        api_list_path = "/api/customers/"
        insider = "sales_clerk"             # persona fixture names
        outsider = "sales_clerk_other_dept"
        stranger = "technician"             # holds no view permission
        def make_record(self, owner): ...
        def label(self, record): return record.number
"""

import pytest
from django.test import Client
from django.urls import reverse

from qcare.accounts.tokens import create_token


class RestrictedRecordContract:
    list_url_name = None
    detail_url_name = None
    api_list_path = None
    insider = None
    outsider = None
    stranger = None

    def make_record(self, owner):
        raise NotImplementedError

    def label(self, record):
        return str(record.pk)

    # --- helpers ---------------------------------------------------------------------------
    @staticmethod
    def web(user):
        client = Client()
        client.force_login(user)
        return client

    @staticmethod
    def api(user):
        _token, raw = create_token(user, "contract")
        return Client(headers={"authorization": f"Bearer {raw}"})

    def persona(self, request, name):
        return request.getfixturevalue(name)

    # --- inherited tests -------------------------------------------------------------------
    @pytest.mark.django_db
    def test_P7_contract_insider_sees_record_in_ui_and_api(self, request):
        insider = self.persona(request, self.insider)
        record = self.make_record(insider)
        web = self.web(insider)
        assert self.label(record) in web.get(reverse(self.list_url_name)).content.decode()
        assert web.get(reverse(self.detail_url_name, args=[record.pk])).status_code == 200
        api = self.api(insider)
        listed = api.get(self.api_list_path).json()["results"]
        assert record.pk in [row["id"] for row in listed]
        assert api.get(f"{self.api_list_path}{record.pk}/").status_code == 200

    @pytest.mark.django_db
    def test_P7_contract_outside_scope_is_404_and_unlisted(self, request):
        record = self.make_record(self.persona(request, self.insider))
        outsider = self.persona(request, self.outsider)
        web = self.web(outsider)
        assert web.get(reverse(self.detail_url_name, args=[record.pk])).status_code == 404
        assert self.label(record) not in web.get(reverse(self.list_url_name)).content.decode()
        api = self.api(outsider)
        assert api.get(f"{self.api_list_path}{record.pk}/").status_code == 404
        listed = api.get(self.api_list_path).json()["results"]
        assert record.pk not in [row["id"] for row in listed]

    @pytest.mark.django_db
    def test_P7_contract_no_view_permission_is_403(self, request):
        stranger = self.persona(request, self.stranger)
        assert self.web(stranger).get(reverse(self.list_url_name)).status_code == 403
        response = self.api(stranger).get(self.api_list_path)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
