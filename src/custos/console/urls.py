from django.urls import path

from custos.console.views import auth, home, security, staff

app_name = "console"

urlpatterns = [
    path("", home.home, name="home"),
    path("login/", auth.login_view, name="login"),
    path("login/code/", auth.totp_view, name="login_totp"),
    path("logout/", auth.logout_view, name="logout"),
    path("org/", staff.org_tree, name="org"),
    path("org/units/new/", staff.unit_create, name="unit_create"),
    path("staff/", staff.staff_list, name="staff"),
    path("staff/new/", staff.staff_create, name="staff_create"),
    path("staff/<int:employee_id>/", staff.staff_detail, name="staff_detail"),
    path("staff/<int:employee_id>/<str:action>/", staff.staff_action, name="staff_action"),
    path("security/", security.security, name="security"),
    path("security/totp/", security.totp_enrol, name="totp_enrol"),
    path("security/tokens/", security.token_create, name="token_create"),
    path("security/tokens/<int:token_id>/revoke/", security.token_revoke, name="token_revoke"),
    path("settings/", security.company_settings, name="company_settings"),
]
