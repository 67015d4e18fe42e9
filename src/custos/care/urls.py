from django.urls import path

from custos.care import views

app_name = "care"

urlpatterns = [
    path("", views.index, name="index"),
    path("tasks/<int:task_id>/", views.task, name="task"),
    path("key-accounts/", views.plans, name="plans"),
    path("key-accounts/<int:plan_id>/visit/", views.plan_visit, name="plan_visit"),
    path("loyalty/", views.loyalty_page, name="loyalty"),
    path("greetings/", views.greetings_page, name="greetings"),
    path("customers/<int:customer_id>/lines/", views.lines, name="lines"),
    path("customers/<int:customer_id>/redeem/", views.redeem, name="redeem"),
]
