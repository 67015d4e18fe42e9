from django.urls import path

from custos.ledger import views

app_name = "ledger"

urlpatterns = [
    path("", views.entries, name="entries"),
    path("<int:seq>/", views.entry, name="entry"),
]
