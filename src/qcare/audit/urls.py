from django.urls import path

from qcare.audit import views

app_name = "audit"

urlpatterns = [
    path("", views.log, name="log"),
    path("history/<str:app_label>/<str:model>/<str:pk>/", views.history, name="history"),
]
