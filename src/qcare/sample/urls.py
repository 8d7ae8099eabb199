from django.urls import path

from qcare.sample import views

app_name = "sample"

urlpatterns = [
    path("", views.sample_list, name="list"),
    path("new/", views.sample_create, name="create"),
    path("<int:pk>/", views.sample_detail, name="detail"),
    path("<int:pk>/edit/", views.sample_edit, name="edit"),
    path("<int:pk>/delete/", views.sample_delete, name="delete"),
    path("<int:pk>/approve/", views.sample_approve, name="approve"),
]
