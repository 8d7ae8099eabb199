"""URLs of the import/export screens; included by qcare.customers.urls (namespace "customers")."""

from django.urls import path

from qcare.customers import views_io

urlpatterns = [
    path("import/", views_io.import_upload, name="import"),
    path("import/commit/", views_io.import_commit, name="import_commit"),
    path("import/template.<str:fmt>", views_io.import_template, name="import_template"),
    path("export/", views_io.export, name="export"),
]
