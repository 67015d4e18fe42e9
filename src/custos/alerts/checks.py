"""`custos check`: the webhook allow-list must be networks, or the operator would think it applies."""

from django.core import checks


def webhook_settings(app_configs=None, **kwargs):
    from custos.alerts import egress

    return [
        checks.Error(
            f"CUSTOS_WEBHOOK_ALLOW_NETWORKS: {item!r} is not a network (write CIDRs such as 10.20.0.0/16 or 192.168.5.7/32)",
            id="custos.alerts.E001",
        )
        for item in egress.invalid_networks()
    ]
