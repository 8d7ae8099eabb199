"""URLs of the after-approval screens (views_after.py); ``orders/urls.py`` appends these to the
"orders" namespace, so the names below are ``orders:<name>``."""

from django.urls import path

from qcare.orders import views_after as v

urlpatterns = [
    # change control (R-OR-8)
    path("<int:pk>/changes/new/", v.change_create, name="change_create"),
    path("changes/", v.change_list, name="change_list"),
    path("changes/<int:pk>/", v.change_detail, name="change_detail"),
    path("changes/<int:pk>/edit/", v.change_edit, name="change_edit"),
    path("changes/<int:pk>/submit/", v.change_submit, name="change_submit"),
    path("changes/<int:pk>/approve/", v.change_approve, name="change_approve"),
    path("changes/<int:pk>/reject/", v.change_reject, name="change_reject"),
    path("changes/<int:pk>/withdraw/", v.change_withdraw, name="change_withdraw"),
    path("changes/acknowledgements/<int:pk>/", v.change_acknowledge, name="change_acknowledge"),
    path("<int:pk>/versions/", v.versions, name="versions"),
    # production notices and shipments (R-OR-9)
    path("<int:pk>/notices/new/", v.notice_create, name="notice_create"),
    path("notices/", v.notice_list, name="notice_list"),
    path("notices/<int:pk>/", v.notice_detail, name="notice_detail"),
    path("notices/<int:pk>/acknowledge/", v.notice_acknowledge, name="notice_acknowledge"),
    path("<int:pk>/shipments/new/", v.shipment_create, name="shipment_create"),
    path("shipments/", v.shipment_list, name="shipment_list"),
    path("shipments/<int:pk>/", v.shipment_detail, name="shipment_detail"),
    # sales records (R-OR-10), traceability (R-OR-11), metrics (R-OR-12)
    path("sales-records/", v.sales_records, name="sales_records"),
    path("sales-records/export/", v.sales_records_export, name="sales_records_export"),
    path("trace/", v.trace, name="trace"),
    path("customers/<int:pk>/lots/", v.customer_lots, name="customer_lots"),
    path("metrics/", v.metrics, name="metrics"),
    path("metrics/export/", v.metrics_export, name="metrics_export"),
    # the review record (R-OR-7)
    path("<int:pk>/review-record/", v.review_record_print, name="review_record_print"),
    path("<int:pk>/review-record.pdf", v.review_record_pdf, name="review_record_pdf"),
]
