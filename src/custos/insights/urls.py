from django.urls import path

from custos.insights import views

app_name = "insights"

urlpatterns = [
    path("", views.index, name="index"),
]
