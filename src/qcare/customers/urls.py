"""URLs of the customer file screens (mounted at /customers/)."""

from django.urls import include, path

from qcare.customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("", include("qcare.customers.urls_io")),  # import / export (custio)
    path("new/", views.customer_create, name="create"),
    path("classifications/", views.classification_list, name="classifications"),
    path("classifications/new/", views.classification_add, name="classification_add"),
    path("classifications/<int:pk>/", views.classification_edit, name="classification_edit"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/reassign/", views.customer_reassign, name="reassign"),
    path("<int:pk>/deactivate/", views.customer_deactivate, name="deactivate"),
    path("<int:pk>/anonymise/", views.customer_anonymise, name="anonymise"),
    path("<int:pk>/contacts/new/", views.contact_add, name="contact_add"),
    path("<int:pk>/licences/new/", views.licence_add, name="licence_add"),
    path("<int:pk>/communications/new/", views.communication_add, name="communication_add"),
    path("<int:pk>/actions/new/", views.action_add, name="action_add"),
    path("<int:pk>/property/new/", views.property_add, name="property_add"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact_edit"),
    path("contacts/<int:pk>/primary/", views.contact_primary, name="contact_primary"),
    path("contacts/<int:pk>/deactivate/", views.contact_deactivate, name="contact_deactivate"),
    path("licences/<int:pk>/", views.licence_detail, name="licence"),
    path("licences/<int:pk>/edit/", views.licence_edit, name="licence_edit"),
    path("actions/<int:pk>/complete/", views.action_complete, name="action_complete"),
    path("actions/<int:pk>/cancel/", views.action_cancel, name="action_cancel"),
    path("property/<int:pk>/edit/", views.property_edit, name="property_edit"),
    path("property/<int:pk>/incident/", views.property_incident, name="property_incident"),
]
