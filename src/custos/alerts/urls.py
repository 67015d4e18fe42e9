from django.urls import path

from custos.alerts import views

app_name = "alerts"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("badge/", views.badge, name="badge"),
    path("lexicon/", views.lexicon, name="lexicon"),
    path("settings/", views.settings_page, name="settings"),
    path("<int:alert_id>/", views.detail, name="detail"),
    path("<int:alert_id>/<str:name>/", views.action, name="action"),
]
