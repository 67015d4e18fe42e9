"""The demo's monitoring policy: version 1, acknowledged by everyone but two salespeople of
广州天河店, whom the store's manager sees on the policy page (and who meet the policy when they
next sign in)."""

from custos.access import transparency
from custos.org.models import Employee, Role

POLICY = """衣尚服饰员工工作信息存档制度（第 1 版）

一、存档什么：工作手机及企业微信中，员工与客户之间的聊天记录（文字、图片、语音、文件）、通话录音，以及加删好友、建群、转账红包等操作记录。个人微信与私人手机不在存档范围。
二、为什么存档：客户是公司的资产。存档用于员工离职交接时保留客户关系与服务记录、处理客户投诉、发现飞单与泄露客户资料等违规行为。
三、谁能查看：门店店长查看本店，区域经理查看本区域，审计人员凭审计任务查看；每一次查看、导出都会被系统记录，可供审计。
四、保存多久：聊天与通话记录保存三年，涉及纠纷或调查的依法延长；期满后按规则清除。
五、客户的意愿：客户在企业微信中拒绝存档的，系统不存其聊天内容。
如有疑问，请联系总部人事部或审计部。"""


def build(seed: int) -> dict:
    admin = Employee.objects.filter(user__username="admin").first()
    if admin is None:
        return {}
    policy = transparency.publish(actor=admin, body=POLICY)
    store1 = Employee.objects.filter(user__username="store1").first()
    late = list(
        Employee.objects.filter(unit_id=store1.unit_id, role=Role.SALES, user__username__startswith="u")
        .order_by("pk")
        .values_list("pk", flat=True)[:2]
    ) if store1 else []
    for employee in Employee.objects.exclude(pk__in=late).exclude(status=Employee.Status.DEPARTED).order_by("pk"):
        transparency.acknowledge(employee=employee, version=policy.version)
    return {"policy": policy.version, "not_acknowledged": late}
