from django.urls import path

from qcare.notifications import views

app_name = "notifications"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("<int:pk>/read/", views.mark_read, name="mark_read"),
    path("<int:pk>/open/", views.open_notification, name="open"),
    path("read-all/", views.mark_all_read, name="mark_all_read"),
    path("dead/", views.dead_letters, name="dead"),
    path("dead/retry/", views.retry, name="retry_all"),
    path("dead/<int:pk>/retry/", views.retry, name="retry"),
]
