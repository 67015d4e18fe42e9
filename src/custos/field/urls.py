from django.urls import path

from custos.field import views

app_name = "field"

urlpatterns = [
    path("", views.index, name="index"),
    path("route/<int:employee_id>/", views.route, name="route"),
    path("visits/<int:visit_id>/", views.visit, name="visit"),
    path("visits/<int:visit_id>/photo/", views.photo, name="photo"),
    path("areas/", views.areas, name="areas"),
    path("areas/<int:employee_id>/", views.area, name="area"),
    path("sites/", views.sites, name="sites"),
    path("sites/add/", views.add_site, name="add_site"),
    path("sites/<int:site_id>/remove/", views.remove_site, name="remove_site"),
]
