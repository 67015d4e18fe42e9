from django.urls import path

from custos.devices import views

app_name = "devices"

urlpatterns = [
    path("", views.index, name="index"),
    path("register/", views.register, name="register"),
    path("policies/", views.policy_list, name="policies"),
    path("<int:device_id>/", views.device, name="device"),
    path("<int:device_id>/enrolment-code/", views.enrolment_code, name="enrolment_code"),
    path("<int:device_id>/commands/", views.queue_command, name="queue_command"),
    path("<int:device_id>/retire/", views.retire, name="retire"),
]
