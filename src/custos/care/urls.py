from django.urls import path

from custos.care import views

app_name = "care"

urlpatterns = [
    path("", views.index, name="index"),
]
