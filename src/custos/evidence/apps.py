from django.apps import AppConfig


class EvidenceConfig(AppConfig):
    name = "custos.evidence"
    label = "evidence"
    verbose_name = "Evidence packages, retention and legal holds"

    def ready(self):
        from django.core import checks

        from custos.evidence import attachments

        attachments.register(archive_files)
        checks.register(keep_days_setting)


def keep_days_setting(app_configs=None, **kwargs):
    """`custos check`: CUSTOS_EVIDENCE_KEEP_DAYS must be a number of days, or packages would never expire."""
    from django.core import checks
    from django.core.exceptions import ImproperlyConfigured

    from custos.evidence.selectors import keep_days

    try:
        keep_days()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="custos.evidence.E001")]
    return []



def archive_files(entry):
    """The evidence package's files come from the archive's encrypted blob store.

    A file the store cannot give back intact is left out: the package then lists it as not
    included, which is the truth, instead of failing the whole build.
    """
    from custos.archive import blobs
    from custos.core.errors import NotFound
    from custos.evidence import attachments

    for info in attachments.wanted(entry):
        try:
            data = b"".join(blobs.open_blob(info["sha256"]))
        except (NotFound, blobs.BlobProblem):
            continue
        yield info["sha256"], info.get("name") or info["sha256"], data
