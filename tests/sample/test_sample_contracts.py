"""The sample record passes the generic permission contract (the pattern later apps copy)."""

from qcare.sample import services
from tests.contracts import RestrictedRecordContract


class TestSampleRecordPermissions(RestrictedRecordContract):
    list_url_name = "sample:list"
    detail_url_name = "sample:detail"
    api_list_path = "/api/samples/"
    insider = "sales_clerk"
    outsider = "sales_clerk_2"  # same department, but a clerk's scope is "own"
    stranger = "technician"

    def make_record(self, owner):
        return services.create_sample(owner, title="合同评审样例 contract sample")

    def label(self, record):
        return record.number
