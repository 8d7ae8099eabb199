"""URLs of orders and contract review (mounted at /orders/).

The screens of views.py are here; the after-approval screens (change requests, production
notices, shipments, versions, the review record PDF) are in ``urls_after``.
"""

from django.urls import path

from qcare.orders import urls_after, views

app_name = "orders"

urlpatterns = [
    path("", views.order_list, name="list"),
    path("new/", views.order_create, name="create"),
    path("<int:pk>/", views.order_detail, name="detail"),
    path("<int:pk>/edit/", views.order_edit, name="edit"),
    path("<int:pk>/requirements/", views.order_requirements, name="requirements"),
    path("<int:pk>/confirmation/", views.order_confirmation, name="confirmation"),
    path("<int:pk>/submit/", views.order_submit, name="submit"),
    path("<int:pk>/classify/", views.order_classify, name="classify"),
    path("<int:pk>/resubmit/", views.order_resubmit, name="resubmit"),
    path("<int:pk>/approve/", views.order_approve, name="approve"),
    path("<int:pk>/reject/", views.order_reject, name="reject"),
    path("<int:pk>/cancel/", views.order_cancel, name="cancel"),
    path("reviews/<int:pk>/sign/", views.review_sign, name="review_sign"),
    path("reviews/<int:pk>/question/", views.review_question, name="review_question"),
    path("questions/<int:pk>/answer/", views.question_answer, name="question_answer"),
    path("config/routes/", views.route_list, name="routes"),
    path("config/routes/new/", views.route_add, name="route_add"),
    path("config/routes/<int:pk>/", views.route_edit, name="route_edit"),
    path("config/rules/", views.rule_list, name="rules"),
    path("config/rules/new/", views.rule_add, name="rule_add"),
    path("config/rules/<int:pk>/", views.rule_edit, name="rule_edit"),
]

# The after-approval screens (change requests, notices, shipments, records, trace, metrics).
urlpatterns += urls_after.urlpatterns
