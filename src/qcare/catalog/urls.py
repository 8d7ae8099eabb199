from django.urls import path

from qcare.catalog import views

app_name = "catalog"

urlpatterns = [
    path("products/", views.product_list, name="list"),
    path("products/new/", views.product_create, name="create"),
    path("products/<int:pk>/", views.product_detail, name="detail"),
    path("products/<int:pk>/edit/", views.product_edit, name="edit"),
    path("products/<int:pk>/deactivate/", views.product_deactivate, name="deactivate"),
    path("products/import/", views.import_upload, name="import"),
    path("products/import/commit/", views.import_commit, name="import_commit"),
    path("products/import/template.<str:fmt>", views.import_template, name="import_template"),
    path("categories/", views.category_list, name="categories"),
    path("categories/new/", views.category_create, name="category_create"),
    path("categories/<int:pk>/edit/", views.category_edit, name="category_edit"),
]
