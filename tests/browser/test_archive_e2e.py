"""The chat page in a real browser: bubbles, a photo decrypted on the fly, a voice note, a recall."""

import hashlib

import pytest

from custos.archive import blobs, media
from custos.archive.models import Conversation
from tests.archive.conftest import Device, event, msg
from tests.browser.test_console_e2e import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_manager_reads_a_chat_with_a_photo_and_a_voice_note(page, company):
    photo, voice = media.png(40, 50, (200, 30, 40), (250, 250, 250)), media.wav(0.5, 300)
    blobs.store_bytes(photo)
    blobs.store_bytes(voice)

    def attachment(data, name, mime):
        return {"sha256": hashlib.sha256(data).hexdigest(), "name": name, "size": len(data), "mime": mime}

    phone = Device(company.sales_a)
    data = phone.send(
        event("contact.added", "a", contact="wm_qian", name="钱女士"),
        msg("t1", "钱女士您好，这是新到的红色大衣", contact="wm_qian"),
        msg("p1", None, contact="wm_qian", msgtype="image", attachment=attachment(photo, "大衣.png", "image/png")),
        msg("v1", None, kind="message.received", contact="wm_qian", msgtype="voice", attachment=attachment(voice, "语音.wav", "audio/wav")),
        msg("t2", "加我私人微信，私下给你便宜", contact="wm_qian"),
        event("message.recalled", "r", message="t2", conversation="wm_qian"),
    ).json()
    assert data["accepted"] == 6, data
    conversation = Conversation.objects.get(key="wm_qian")

    sign_in(page, "manager_a")
    page.wait_for_url(page.base + "/")
    page.goto(f"{page.base}/conversations/")
    page.click(f"[data-conversation='{conversation.pk}'] a")
    page.wait_for_selector(".chat")
    assert "红色大衣" in page.locator(".row.staff").first.inner_text()
    page.wait_for_function("document.querySelector('.chat img') && document.querySelector('.chat img').naturalWidth === 40")
    assert page.locator(".row.customer audio").count() == 1
    recalled = page.locator("[data-recalled='1']")
    assert "私人微信" in recalled.inner_text()  # still readable
