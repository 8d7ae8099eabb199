from django.urls import include, path

from qcare.core import views

app_name = "core"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("", include("qcare.core.urls_mechanisms")),
]
