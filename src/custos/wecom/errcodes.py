"""WeCom's error codes that the connector meets, with their meaning in Chinese and what to do.

From WeCom's global error code page (全局错误码) and the transfer APIs' documentation. An IT person
reads these on the console; the English text is for the logs.
"""

# errcode: (中文说明, what to do)
MEANINGS: dict[int, tuple[str, str]] = {
    -1: ("系统繁忙", "企业微信服务器暂不可用，稍后自动重试"),
    40001: ("不合法的secret参数", "检查该应用的 Secret 是否复制完整、是否已重置"),
    40003: ("无效的UserID", "该成员不在企业微信通讯录中，先同步通讯录"),
    40013: ("不合法的CorpID", "在企业微信管理后台“我的企业”页底部复制企业ID"),
    40014: ("不合法的access_token", "令牌失效，已自动重新获取"),
    40031: ("不合法的UserID列表", "接收人不在应用可见范围内"),
    40096: ("不合法的外部联系人userid", "该客户不是此成员的客户，或 ID 来自另一个主体"),
    40097: ("该成员尚未离职", "离职继承要求原跟进人已在企业微信中离职；在职员工请用在职继承"),
    40098: ("接替成员尚未实名认证", "接替成员需先在企业微信完成实名认证"),
    40099: ("接替成员的外部联系人数量已达上限", "换一位接替成员，或先清理其客户"),
    40100: ("此用户的外部联系人已经在转移流程中", "等上一次转接完成后再试"),
    40128: ("客户转接过于频繁", "90 天内在职成员的每位客户只能被转接两次"),
    40129: ("当前客户正在转接中", "等待本次转接结果"),
    40130: ("原跟进人与接手人一样，不可继承", "选择另一位接替成员"),
    40131: ("handover_userid 并不是外部联系人的跟进人", "该客户已不在原跟进人名下，先同步客户"),
    41001: ("缺少access_token参数", "内部错误，请联系技术支持"),
    42001: ("access_token已过期", "令牌过期，已自动重新获取"),
    45009: ("接口调用超过限制", "调用太频繁，稍后自动重试"),
    45033: ("接口并发调用超过限制", "调用太频繁，稍后自动重试"),
    48002: ("API接口无权限调用", "在管理后台把本应用加入“客户联系 → 可调用接口的应用”，并检查 Secret 对应的权限"),
    60011: ("指定的成员/部门/标签参数无权限", "把成员和部门加入应用的可见范围"),
    60020: ("不安全的访问IP", "把 Custos 服务器的出口 IP 加入应用的“企业可信IP”"),
    60111: ("UserID不存在", "先同步通讯录"),
    84061: ("不存在外部联系人的关系", "该客户已不是此成员的好友"),
    84083: ("非服务人员", "接替成员需要配置客户联系功能"),
    90500: ("群主并未离职", "在职员工的群请用在职继承"),
    90501: ("该群不是客户群", "只有客户群能转给新群主"),
    90502: ("群主已经离职", "离职员工的群请用离职继承"),
    90507: ("离职群正在继承处理中", "等待本次继承结果"),
    90508: ("离职群已经继承", "无需再次操作"),
}

# Worth trying again later on their own; anything else needs a person to change something.
RETRYABLE = frozenset({-1, 45009, 45033, 40100, 40129, 90507})
TOKEN_EXPIRED = frozenset({40014, 42001})
FREQUENCY = frozenset({45009, 45033})


def meaning(errcode: int) -> str:
    found = MEANINGS.get(errcode)
    return found[0] if found else "未知错误"


def describe(errcode: int, errmsg: str = "") -> str:
    """One line for a person: 错误码 60020：不安全的访问IP。把 … 加入 ….
    WeCom's own errmsg carries a hint id and the caller's IP, useful to its support; kept short."""
    found = MEANINGS.get(errcode)
    if found:
        return f"企业微信错误码 {errcode}：{found[0]}。{found[1]}"
    tail = (errmsg or "").split(",")[0][:120]
    return f"企业微信错误码 {errcode}：{tail or '未知错误'}"
