from django.urls import path

from custos.wecom import views

app_name = "wecom"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("callback/", views.callback, name="callback"),
    path("configure/", views.configure, name="configure"),
    path("test/", views.test, name="test"),
    path("archive/keys/", views.add_archive_key, name="archive_key"),
    path("sync/<str:kind>/", views.start_sync, name="sync"),
    path("sync/run/<int:run_id>/", views.sync_progress, name="sync_progress"),
    path("transfers/<int:transfer_id>/retry/", views.retry_transfer, name="retry_transfer"),
]
