from django.urls import path

from custos.evidence import views

app_name = "evidence"

urlpatterns = [
    path("", views.packages, name="packages"),
    path("retention/", views.retention, name="retention"),
    path("retention/rules/", views.rule_set, name="rule_set"),
    path("retention/rules/remove/", views.rule_remove, name="rule_remove"),
    path("retention/holds/", views.hold_place, name="hold_place"),
    path("retention/holds/<int:hold_id>/release/", views.hold_release, name="hold_release"),
    path("<uuid:package_id>/", views.detail, name="detail"),
    path("<uuid:package_id>/download/", views.download, name="download"),
]
