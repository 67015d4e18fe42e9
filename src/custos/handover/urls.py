from django.urls import path

from custos.handover import views

app_name = "handover"

urlpatterns = [
    path("", views.index, name="index"),
    path("cases/new/", views.case_open, name="case_open"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("cases/<int:case_id>/report/", views.case_report, name="report"),
    path("cases/<int:case_id>/<str:action>/", views.case_action, name="case_action"),
    path("plans/<int:plan_id>/", views.plan_detail, name="plan"),
    path("plans/<int:plan_id>/<str:action>/", views.plan_action, name="plan_action"),
    path("transfer/", views.transfer, name="transfer"),
    path("rotations/", views.rotations, name="rotations"),
    path("rotations/<int:rotation_id>/", views.rotation_detail, name="rotation"),
    path("tasks/", views.tasks, name="tasks"),
    path("tasks/<int:task_id>/done/", views.task_done, name="task_done"),
]
