from django.urls import path

from qcare.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.password_change, name="password_change"),
    path("me/", views.profile, name="profile"),
    path("me/sign-out-others/", views.sign_out_other_sessions, name="user_sign_out_self"),
    path("me/tokens/", views.my_tokens, name="tokens"),
    path("tokens/", views.tokens_admin, name="tokens_admin"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="token_revoke"),
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<int:pk>/", views.user_edit, name="user_edit"),
    path("users/<int:pk>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("users/<int:pk>/password/", views.user_reset_password, name="user_reset_password"),
    path("users/<int:pk>/sign-out/", views.user_sign_out, name="user_sign_out"),
    path("departments/", views.department_list, name="department_list"),
    path("departments/new/", views.department_edit, name="department_create"),
    path("departments/<int:pk>/", views.department_edit, name="department_edit"),
    path("roles/", views.role_list, name="role_list"),
    path("roles/new/", views.role_edit, name="role_create"),
    path("roles/<int:pk>/", views.role_edit, name="role_edit"),
]
