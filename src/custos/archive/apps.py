from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ArchiveConfig(AppConfig):
    name = "custos.archive"
    label = "archive"
    verbose_name = _("Conversation archive")

    def ready(self):
        from custos.archive import blobs, panels, projection, selectors, signing, uploads
        from custos.core import sealed
        from custos.customers import panels as customer_panels
        from custos.ledger import projections
        from custos.ledger import selectors as ledger_selectors
        from custos.ledger import verify as ledger_verify

        projections.register(
            projection.NAME, kinds=projection.KINDS, handle=projection.handle, reset=projection.reset
        )
        projections.on_redacted(projection.NAME, projection.clear_redacted)
        ledger_verify.register_check("archive attachments", blobs.verify_referenced)
        blobs.register_encrypted()
        uploads.register_encrypted()
        signing.register_encrypted()
        sealed.register("archive.message_text", "archive.Message", "text")
        sealed.register("archive.message_attachment_name", "archive.Message", "attachment_name")
        sealed.register("archive.message_extra", "archive.Message", "extra")
        sealed.register("archive.contact_wechat_id", "archive.ExternalContact", "wechat_id")
        customer_panels.register("archive.consent", panels.consent_panel)
        ledger_selectors.register_limit(selectors.entries_not_linked_outside)
