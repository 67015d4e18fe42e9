from django.urls import path

from custos.customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("pool/", views.pool, name="pool"),
    path("export/", views.customer_export, name="export"),
    path("completeness/", views.completeness, name="completeness"),
    path("import/", views.import_start, name="import"),
    path("import/template.csv", views.import_template, name="import_template"),
    path("import/<int:job_id>/", views.import_job, name="import_job"),
    path("import/<int:job_id>/failed.csv", views.import_failed, name="import_failed"),
    path("import/<int:job_id>/progress/", views.import_progress, name="import_progress"),
    path("<int:customer_id>/", views.customer_detail, name="detail"),
    path("<int:customer_id>/edit/", views.customer_edit, name="edit"),
    path("<int:customer_id>/contacts/<int:contact_id>/reveal/", views.contact_reveal, name="reveal"),
    path("<int:customer_id>/<str:action>/", views.customer_action, name="action"),
]
