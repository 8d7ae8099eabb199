"""URLs of the policy editor and e-signature screens (owned by core-mechanisms)."""

urlpatterns = []
