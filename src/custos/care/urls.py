from django.urls import path

from custos.care import views

app_name = "care"

urlpatterns = [
    path("", views.index, name="index"),
    path("tasks/<int:task_id>/", views.task, name="task"),
    path("key-accounts/", views.plans, name="plans"),
    path("key-accounts/<int:plan_id>/visit/", views.plan_visit, name="plan_visit"),
    path("loyalty/", views.loyalty_page, name="loyalty"),
    path("loyalty/import/<int:job_id>/", views.points_job, name="points_job"),
    path("loyalty/import/<int:job_id>/failed.csv", views.points_failed, name="points_failed"),
    path("loyalty/import/<int:job_id>/progress/", views.points_progress, name="points_progress"),
    path("greetings/", views.greetings_page, name="greetings"),
    path("customers/<int:customer_id>/lines/", views.lines, name="lines"),
    path("customers/<int:customer_id>/redeem/", views.redeem, name="redeem"),
]
