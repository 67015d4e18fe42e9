from django.urls import path

from custos.archive import views

app_name = "archive"

urlpatterns = [
    path("", views.conversation_list, name="conversations"),
    path("search/", views.search, name="search"),
    path("c/<int:conversation_id>/", views.conversation_detail, name="conversation"),
    path("m/<int:message_id>/attachment/", views.attachment, name="attachment"),
    path("contacts/<int:contact_id>/link/", views.link_contact, name="link"),
]
