from django.urls import path

from qcare.attachments import views

app_name = "attachments"

urlpatterns = [
    path("upload/<int:content_type_id>/<str:object_pk>/", views.upload, name="upload"),
    path("<int:pk>/download/", views.download, name="download"),
    path("<int:pk>/remove/", views.remove, name="remove"),
]
