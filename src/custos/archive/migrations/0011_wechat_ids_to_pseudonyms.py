"""Rewrite the WeChat ids an older Custos kept in clear as contact keys to their keyed pseudonyms
(custos.archive.pseudonym), sealing each contact's id in wechat_id (issue #20 item 3).

Contacts whose ids differ only in case become one contact (as they would be now). The ledger's
payloads are sealed already and stay as they were (they are immutable).
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from custos.archive import pseudonym

    ExternalContact = apps.get_model("archive", "ExternalContact")
    Conversation = apps.get_model("archive", "Conversation")
    Message = apps.get_model("archive", "Message")
    Alert = apps.get_model("alerts", "Alert")
    for contact in ExternalContact.objects.order_by("pk").iterator(chunk_size=500):
        old = contact.external_id
        new = pseudonym.of(old)
        if new == old:
            continue
        same = ExternalContact.objects.filter(external_id=new).first()
        if same is None:
            contact.external_id, contact.wechat_id = new, contact.wechat_id or old
            contact.save(update_fields=["external_id", "wechat_id"])
        else:
            Conversation.objects.filter(contact_id=contact.pk).update(contact_id=same.pk)
            if same.customer_id is None and contact.customer_id is not None:
                ExternalContact.objects.filter(pk=same.pk).update(customer_id=contact.customer_id)
            contact.delete()
        Message.objects.filter(contact_key=old).update(contact_key=new)
        Alert.objects.filter(contact=old).update(contact=new)
        # an alert about no customer is deduplicated by its contact (alerts.rules.Signal.key)
        for alert in Alert.objects.filter(dedupe_key__endswith=f":{old}").only("pk", "dedupe_key"):
            key = (alert.dedupe_key[: -len(old)] + new)[:200]
            Alert.objects.filter(pk=alert.pk).update(dedupe_key=key)
    for conversation in Conversation.objects.filter(group__isnull=True).order_by("pk").iterator(chunk_size=500):
        old = conversation.key
        new = pseudonym.of(old)
        if new == old:
            continue
        if Conversation.objects.filter(employee_id=conversation.employee_id, key=new).exists():
            # the same chat under an id differing only in case: its messages join the other
            target = Conversation.objects.get(employee_id=conversation.employee_id, key=new)
            Message.objects.filter(conversation_id=conversation.pk).update(conversation_id=target.pk)
            Conversation.objects.filter(pk=target.pk).update(messages=target.messages + conversation.messages)
            conversation.delete()
            continue
        conversation.key = new
        if conversation.title == old:
            conversation.title = new
        conversation.save(update_fields=["key", "title"])


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0010_contact_wechat_id_sealed"),
        ("alerts", "0005_delivery_notice"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
