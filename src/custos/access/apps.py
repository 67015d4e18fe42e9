from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccessConfig(AppConfig):
    name = "custos.access"
    label = "access"
    verbose_name = _("Access")

    def ready(self):
        # The TOTP secrets are field-encrypted: `custos keys rotate` re-seals them with the rest.
        from custos.access import login
        from custos.core import keyring

        keyring.register("access.totp", "org.Employee", "totp_secret", aad=lambda _e: login.TOTP_AAD)
