from django.urls import path

from custos.pool import views

app_name = "pool"

urlpatterns = [
    path("", views.index, name="index"),
    path("claim/<int:customer_id>/", views.claim, name="claim"),
    path("allocate/", views.allocate, name="allocate"),
    path("allocations/<int:allocation_id>/", views.allocation_detail, name="allocation"),
    path("allocations/<int:allocation_id>/commit/", views.allocation_commit, name="allocation_commit"),
    path("settings/", views.settings_page, name="settings"),
    path("settings/<str:action>/", views.settings_action, name="settings_action"),
    path("stats/", views.stats, name="stats"),
]
