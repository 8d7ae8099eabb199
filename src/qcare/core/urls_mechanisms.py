"""URLs of the policy editor, numbering patterns and e-signature screens (core-mechanisms)."""

from django.urls import path

from qcare.core import views_mech

urlpatterns = [
    path("policies/", views_mech.policy_list, name="policies"),
    path("policies/numbering/", views_mech.numbering_list, name="numbering"),
    path("policies/numbering/<slug:record_type>/", views_mech.numbering_edit, name="numbering_edit"),
    path("policies/<str:key>/", views_mech.policy_edit, name="policy_edit"),
    path("signatures/unlock/<int:user_id>/", views_mech.signing_unlock, name="signing_unlock"),
]
