from django.urls import path

from custos.field import views

app_name = "field"

urlpatterns = [
    path("", views.index, name="index"),
]
