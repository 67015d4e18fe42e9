from django.urls import path

from custos.customers import chain_views

app_name = "chain"

urlpatterns = [
    path("", chain_views.look_up, name="look_up"),
    path("<int:customer_id>/", chain_views.card, name="card"),
]
