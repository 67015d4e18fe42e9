from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "custos.evidence"
    label = "evidence"
    verbose_name = "Evidence packages, retention and legal holds"
