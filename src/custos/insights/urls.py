from django.urls import path

from custos.insights import views

app_name = "insights"

urlpatterns = [
    path("", views.index, name="index"),
    path("report.pdf", views.report_pdf, name="report_pdf"),
    path("<str:name>/", views.dashboard, name="dashboard"),
    path("<str:name>/<str:panel>.csv", views.panel_csv, name="csv"),
]
