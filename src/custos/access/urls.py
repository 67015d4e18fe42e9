from django.urls import path

from custos.access import views

app_name = "access"

urlpatterns = [
    path("", views.policy, name="policy"),
    path("acknowledge/", views.acknowledge, name="acknowledge"),
    path("publish/", views.publish, name="publish"),
]
