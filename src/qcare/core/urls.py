from django.urls import path

from qcare.core import views

app_name = "core"

urlpatterns = [path("", views.dashboard, name="dashboard")]
