"""URLs of feedback and complaints (mounted at /complaints/).

The complaint screens of views.py are here; the other screens (feedback, CAPA, returns and
settlements, advisory notices, statistics, responsibility reports, penalties) are in
``urls_more``, included at the same level.
"""

from django.urls import include, path

from qcare.complaints import views

app_name = "complaints"

urlpatterns = [
    path("", views.complaint_list, name="complaint_list"),
    path("new/", views.complaint_create, name="complaint_create"),
    path("<int:pk>/", views.complaint_detail, name="complaint_detail"),
    path("<int:pk>/edit/", views.complaint_edit, name="complaint_edit"),
    path("<int:pk>/print/", views.complaint_print, name="complaint_print"),
    path("<int:pk>/capa/", views.complaint_capa, name="complaint_capa"),
]
# One page per workflow step: complaints:complaint_triage, complaint_approve, complaint_reply …
urlpatterns += [
    path(
        f"<int:pk>/{name.replace('_', '-')}/", views.complaint_step, {"step": name}, name=f"complaint_{name}"
    )
    for name in views.STEPS
]
# The screens of views_more (feedback, CAPA, returns, notices, statistics …).
urlpatterns += [path("", include("qcare.complaints.urls_more"))]
