from django.urls import path

from qcare.workcalendar import views

app_name = "workcalendar"

urlpatterns = [
    path("", views.site_list, name="sites"),
    path("<slug:code>/", views.site_detail, name="site"),
    path("<slug:code>/overrides/", views.add_override, name="add_override"),
    path("<slug:code>/overrides/<int:pk>/delete/", views.remove_override, name="remove_override"),
]
