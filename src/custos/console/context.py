def viewer(request):
    employee = getattr(request, "viewer", None)
    if employee is None and getattr(request, "user", None) is not None and request.user.is_authenticated:
        employee = getattr(request.user, "employee", None)
    return {"viewer": employee}
