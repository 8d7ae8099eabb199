"""URLs of orders and contract review (owner of the screens: views.py; after-approval screens: urls_after.py)."""

app_name = "orders"
urlpatterns = []
