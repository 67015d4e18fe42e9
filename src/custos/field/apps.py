from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FieldConfig(AppConfig):
    name = "custos.field"
    label = "field"
    verbose_name = _("Field work")

    def ready(self):
        from custos.field import labels, rules

        rules.register()
        labels.register()
