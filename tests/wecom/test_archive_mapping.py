"""Every msgtype of WeCom's chat archive onto the archive's events (WeCom's own field names)."""

import pytest

from custos.archive.models import Message
from custos.ledger.models import Entry
from custos.wecom import archive_pull
from custos.wecom.archive_mapping import Member, map_message
from tests.wecom import archive_support, sdk_fixtures
from tests.wecom.archive_support import message

standin_library = sdk_fixtures.standin_library
standin_env = sdk_fixtures.standin_env
archive = archive_support.archive

MEMBERS = {"sales_a": Member(11, 3), "sales_b": Member(12, 5)}
MEDIA = {"md5sum": "0" * 32, "sdkfileid": "CtYBMzA2OTAyMDEwMjA0NjIzMDYw"}
CHATRECORD_ITEMS = [
    {"type": "ChatRecordText", "msgtime": 1, "content": '{"content":"记录里的话：私下转账"}', "from_chatroom": False},
    {"type": "ChatRecordImage", "msgtime": 2, "content": '{"md5sum":"x","filesize":1}', "from_chatroom": False},
    {"type": "ChatRecordMixed", "msgtime": 3, "content": '{"item":[{"type":"text","content":"{\\"content\\":\\"嵌套的话\\"}"}]}'},
]

# msgtype, its object as WeCom sends it, the text kept, the amount, a file to fetch
CASES = [
    ("text", {"text": {"content": "您好"}}, "您好", None, False),
    ("image", {"image": {**MEDIA, "filesize": 4000}}, None, None, True),
    ("agree", {"agree": {"userid": "wmCustomer1", "agree_time": 1547087894783}}, None, None, False),
    ("disagree", {"disagree": {"userid": "wmCustomer1", "disagree_time": 1547087894783}}, None, None, False),
    ("voice", {"voice": {**MEDIA, "voice_size": 4000, "play_length": 10}}, None, None, True),
    ("video", {"video": {**MEDIA, "filesize": 4000, "play_length": 10}}, None, None, True),
    ("card", {"card": {"corpname": "微信用户", "userid": "wmPrivate"}}, "微信用户\nwmPrivate", None, False),
    ("location", {"location": {"longitude": 113.3, "latitude": 23.1, "address": "天河路 1 号", "title": "天河城", "zoom": 15}}, "天河城\n天河路 1 号", None, False),
    ("emotion", {"emotion": {**MEDIA, "type": 1, "width": 100, "height": 100, "imagesize": 2000}}, None, None, True),
    ("file", {"file": {**MEDIA, "filename": "报价单.xlsx", "fileext": "xlsx", "filesize": 4000}}, "报价单.xlsx", None, True),
    ("link", {"link": {"title": "新品", "description": "到店有礼", "link_url": "https://example.com/a", "image_url": ""}}, "新品\n到店有礼\nhttps://example.com/a", None, False),
    ("weapp", {"weapp": {"title": "商城", "description": "下单", "username": "gh_1@app", "displayname": "某店"}}, "商城\n下单\n某店", None, False),
    ("chatrecord", {"chatrecord": {"title": "群聊的聊天记录", "item": CHATRECORD_ITEMS}}, "群聊的聊天记录\n记录里的话：私下转账\n嵌套的话", None, False),
    ("todo", {"todo": {"title": "回访", "content": "周五回访李先生"}}, "回访\n周五回访李先生", None, False),
    ("vote", {"vote": {"votetitle": "聚餐", "voteitem": ["周五", "周六"], "votetype": 101, "voteid": "v1"}}, "聚餐\n周五\n周六", None, False),
    ("collect", {"collect": {"room_name": "群", "creator": "sales_a", "create_time": "2020-01-01 10:00:00", "title": "报名", "details": [{"id": 1, "ques": "电话", "type": "Text"}]}}, "群\n报名\n电话", None, False),
    ("redpacket", {"redpacket": {"type": 1, "wish": "恭喜发财", "totalcnt": 1, "totalamount": 8800}}, "恭喜发财", 8800, False),
    ("external_redpacket", {"redpacket": {"type": 1, "wish": "红包", "totalcnt": 2, "totalamount": 520}}, "红包", 520, False),
    ("meeting", {"meeting": {"topic": "看房", "starttime": 1, "endtime": 2, "address": "门店", "remarks": "带合同", "meetingtype": 102, "meetingid": 1, "status": 1}}, "看房\n门店\n带合同", None, False),
    ("docmsg", {"doc": {"title": "合同", "link_url": "https://doc.example/1", "doc_creator": "sales_a"}}, "合同\nhttps://doc.example/1", None, False),
    ("markdown", {"info": {"content": "**价格** 1280"}}, "**价格** 1280", None, False),
    ("news", {"info": {"item": [{"title": "活动", "description": "满减", "url": "https://e.x", "picurl": ""}]}}, "活动 满减", None, False),
    ("calendar", {"calendar": {"title": "回访", "creatorname": "小王", "attendeename": ["李"], "starttime": 1, "endtime": 2, "place": "店里", "remarks": "带样品"}}, "回访\n店里\n带样品", None, False),
    ("mixed", {"mixed": {"item": [{"type": "text", "content": '{"content":"看看这个"}'}, {"type": "image", "content": '{"md5sum":"x","filesize":1,"sdkfileid":"y"}'}]}}, "看看这个", None, False),
    ("meeting_voice_call", {"voiceid": "grb8a4c48a3c094a70982c518d55e40557", "meeting_voice_call": {"endtime": 1, "sdkfileid": "abc", "demofiledata": [], "sharescreendata": []}}, None, None, True),
    ("voip_doc_share", {"voipid": "gr2751c98b19300571f8afb3b74514bd32", "voip_doc_share": {**MEDIA, "filename": "方案.pdf", "filesize": 10}}, "方案.pdf", None, True),
    ("sphfeed", {"sphfeed": {"feed_type": 4, "sph_name": "某号", "feed_desc": "直播"}}, "某号\n直播", None, False),
    ("voiptext", {"voipid": "gr1", "info": {"callduration": 30, "invitetype": 1}}, None, None, False),
    ("qydiskfile", {"info": {"filename": "资料.zip"}}, "资料.zip", None, False),
    ("someday_new_type", {"someday_new_type": {"whatever": [1, 2]}}, None, None, False),
]  # fmt: skip


@pytest.mark.parametrize("msgtype,content,text,amount,media", CASES, ids=[c[0] for c in CASES])
def test_each_msgtype(msgtype, content, text, amount, media):
    m = map_message(message("m1", msgtype, **content), MEMBERS)
    assert m.aside is None, m.reason
    p = m.event.payload
    assert m.event.kind == "message.sent" and m.event.source == "wecom_archive" and m.event.source_id == "m1"
    assert m.event.actor_id == 11 and m.event.unit_id == 3
    assert (p["msgtype"], p["conversation"], p["contact"], p["group"]) == (msgtype, "wmCustomer1", "wmCustomer1", None)
    assert p["text"] == text and p["amount"] == amount and p["sender_role"] == "staff"
    assert (m.media is not None) == media
    for key, value in content.items():  # WeCom's object is kept whole, sdkfileid and all
        assert p["raw"][key] == value


def test_media_names_and_types():
    file = map_message(message("m", "file", file={**MEDIA, "filename": "报价单.xlsx", "fileext": "xlsx", "filesize": 9}), MEMBERS)
    assert (file.media.name, file.media.size, file.media.sdkfileid) == ("报价单.xlsx", 9, MEDIA["sdkfileid"])
    assert file.media.mime == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    gif = map_message(message("m", "emotion", emotion={**MEDIA, "type": 1}), MEMBERS)
    assert (gif.media.mime, gif.media.name) == ("image/gif", "m.gif")
    voice = map_message(message("m", "voice", voice={**MEDIA, "voice_size": 7, "play_length": 1}), MEMBERS)
    assert (voice.media.mime, voice.media.size) == ("audio/amr", 7)


def test_a_customer_message_is_received_by_the_staff_member():
    m = map_message(message("m", sender="wmCustomer1", to=["sales_b"]), MEMBERS)
    assert m.event.kind == "message.received" and m.event.actor_id == 12
    assert m.event.payload["contact"] == "wmCustomer1" and m.event.payload["sender_role"] == "customer"


def test_group_chats_are_keyed_by_roomid():
    staff = map_message(message("g1", sender="sales_a", to=["wmC1", "wmC2", "sales_b"], roomid="wrRoom1"), MEMBERS)
    assert (staff.event.payload["conversation"], staff.event.payload["group"], staff.event.payload["contact"]) == ("wrRoom1", "wrRoom1", None)
    assert staff.event.payload["raw"]["tolist_size"] == 3 and "tolist" not in staff.event.payload["raw"]
    customer = map_message(message("g2", sender="wmC1", to=["wmC2", "stranger", "sales_b"], roomid="wrRoom1"), MEMBERS)
    assert customer.event.kind == "message.received" and customer.event.actor_id == 12
    assert customer.event.payload["contact"] == "wmC1" and customer.event.payload["group"] == "wrRoom1"


def test_revoke_is_a_recall_naming_the_original():
    m = map_message(message("r1", "revoke", revoke={"pre_msgid": "orig1"}) | {"action": "recall"}, MEMBERS)
    assert m.event.kind == "message.recalled" and m.recalls == "orig1"
    assert m.event.payload == {"message": "orig1", "conversation": "wmCustomer1"}


def test_switch_is_the_members_device_switch():
    m = map_message({"msgid": "s1", "action": "switch", "time": archive_support.ms(1), "user": "sales_a"}, MEMBERS)
    assert m.event.kind == "wecom.device_switched" and m.event.payload == {"user": "sales_a"} and m.event.actor_id == 11


def test_what_cannot_be_appended_says_why():
    assert map_message(message("i", sender="sales_a", to=["sales_b"]), MEMBERS).aside == "internal"
    unknown = map_message(message("u", sender="wmC", to=["nobody"]), MEMBERS)
    assert unknown.aside == "unknown_member" and "nobody" in unknown.reason
    assert map_message({**message("t"), "msgtime": "soon"}, MEMBERS).aside == "invalid"
    bad_type = map_message(message("b", "Bad-Type", **{"Bad-Type": {}}), MEMBERS)
    assert bad_type.aside == "invalid" and "msgtype" in bad_type.reason


def test_every_type_goes_through_the_ledger_and_the_read_model(archive):
    decoded = [(None, message(f"t-{c[0]}", c[0], minute=i, **c[1])) for i, c in enumerate(CASES)]
    decoded.append((None, message("t-revoke", "revoke", minute=99, revoke={"pre_msgid": "t-text"}) | {"action": "recall"}))
    stored = archive_pull.store_messages(decoded, fetch_media=False)
    assert stored.appended == len(CASES) + 1 and stored.aside == 0
    assert Message.objects.filter(source_id__startswith="t-").count() == len(CASES)
    assert Message.objects.get(source_id="t-text").recalled_at is not None  # the original stays, marked recalled
    assert Message.objects.get(source_id="t-redpacket").amount_fen == 8800
    assert Entry.objects.filter(source="wecom_archive", kind="message.recalled").count() == 1
