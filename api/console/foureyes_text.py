"""The console's words for internal controls (内部复核, 双人审批) and the trusted-account list, in
Chinese and English: api/console/foureyes.py and controls.html. Merged into ``i18n.TEXT``."""

from __future__ import annotations

from typing import Final

__all__ = ["CONTROLS_TEXT"]

CONTROLS_TEXT: Final[dict[str, dict[str, str]]] = {
    "nav.controls": {"zh": "复核与信任名单", "en": "Approvals & trusted list"},
    "fe.hint": {
        "zh": "超过本单位设定阈值的转让须由第二位用户（复核人）批准后才登记；信任名单的新增须两人批准，"
        "并在登记中心规定的工作日等待期后生效，移除即时生效。日志记录经办人与复核人。",
        "en": "A transfer above your threshold is recorded only once a second user (an approver) approves "
        "it; a trusted-list addition needs two users and takes effect after the registry's delay in "
        "working days; a removal is at once. The journal names both users.",
    },
    "fe.as_user": {"zh": "当前用户：{user}（{role}）", "en": "Signed in as {user} ({role})"},
    "fe.as_admin": {
        "zh": "当前为单位管理员密钥：可创建用户与设置阈值；转让与审批须以具名用户登录。",
        "en": "Signed in with the party's administrator key: create users and set thresholds here; "
        "transfers and approvals are made by named users.",
    },
    "user_role.clerk": {"zh": "经办人", "en": "clerk"},
    "user_role.approver": {"zh": "复核人", "en": "approver"},
    "fe.todo": {"zh": "待办", "en": "To do"},
    "fe.todo_none": {"zh": "没有等待您签署的事项。", "en": "Nothing awaits your signature."},
    "fe.mine": {"zh": "我提交的待批事项", "en": "My proposals awaiting approval"},
    "fe.recent": {"zh": "近期事项", "en": "Recent proposals"},
    "fe.none": {"zh": "暂无事项。", "en": "No proposals."},
    "fe.col.proposal": {"zh": "事项编号", "en": "Proposal"},
    "fe.col.what": {"zh": "内容", "en": "What"},
    "fe.col.proposed_by": {"zh": "经办人", "en": "Proposed by"},
    "fe.col.decided_by": {"zh": "处理人", "en": "Decided by"},
    "fe.col.expires": {"zh": "失效时间", "en": "Expires"},
    "fe.col.account": {"zh": "账户", "en": "Account"},
    "fe.col.effective": {"zh": "生效时间", "en": "In effect from"},
    "fe.col.user": {"zh": "用户", "en": "User"},
    "fe.col.name": {"zh": "姓名", "en": "Name"},
    "fe.col.role": {"zh": "角色", "en": "Role"},
    "fe.kind.transfer": {"zh": "转让", "en": "Transfer"},
    "fe.kind.trust": {"zh": "加入信任名单", "en": "Add to trusted list"},
    "fe.approve": {"zh": "批准并签署", "en": "Approve and sign"},
    "fe.reject": {"zh": "驳回", "en": "Reject"},
    "fe.withdraw": {"zh": "撤回", "en": "Withdraw"},
    "fe.transfer_title": {"zh": "转让排污权", "en": "Transfer rights"},
    "fe.threshold_is": {
        "zh": "超过 {limit} 的转让须复核人批准。",
        "en": "A transfer above {limit} needs an approver's approval.",
    },
    "fe.field.to": {"zh": "转入账户", "en": "To"},
    "fe.send": {"zh": "提交转让", "en": "Submit the transfer"},
    "fe.nothing_to_send": {
        "zh": "没有可转让的排污权或转入方。",
        "en": "No rights to send, or no one to send to.",
    },
    "fe.trusted_title": {"zh": "信任账户名单", "en": "Trusted accounts"},
    "fe.trusted_on": {
        "zh": "已启用：转让只能转入名单中已生效的账户。",
        "en": "In use: transfers go only to accounts on the list and in effect.",
    },
    "fe.trusted_off": {"zh": "未启用信任名单。", "en": "No trusted list in use."},
    "fe.trusted_none": {"zh": "名单为空。", "en": "The list is empty."},
    "fe.in_effect": {"zh": "已生效", "en": "in effect"},
    "fe.in_delay": {"zh": "等待期中", "en": "in its delay"},
    "fe.remove": {"zh": "移除", "en": "Remove"},
    "fe.field.account": {"zh": "账户", "en": "Account"},
    "fe.propose_trust": {"zh": "提议加入信任名单", "en": "Propose for the trusted list"},
    "fe.admin_title": {"zh": "用户与阈值（管理员）", "en": "Users and thresholds (administrator)"},
    "fe.issued": {
        "zh": "用户 {user} 的访问密钥（仅显示这一次，请交给本人）：",
        "en": "Access key of {user} (shown this once; hand it to them):",
    },
    "fe.field.user_id": {"zh": "用户名", "en": "User id"},
    "fe.field.name": {"zh": "姓名", "en": "Name"},
    "fe.field.role": {"zh": "角色", "en": "Role"},
    "fe.add_user": {"zh": "创建用户", "en": "Create the user"},
    "fe.field.threshold": {"zh": "转让复核阈值（吨）", "en": "Four-eyes threshold for transfers (t)"},
    "fe.field.trusted_list": {"zh": "启用信任名单", "en": "Use a trusted list"},
    "fe.set_controls": {"zh": "设置", "en": "Set"},
    "fe.change_title": {"zh": "修改复核阈值与信任名单", "en": "Change the thresholds and the trusted list"},
    "fe.propose_change": {
        "zh": "提议修改（须复核人批准）",
        "en": "Propose the change (an approver approves it)",
    },
    "fe.controls_in_force": {
        "zh": "阈值与信任名单已生效，修改须两位用户批准。",
        "en": "Thresholds and the trusted list are in force; changing them needs two users.",
    },
    "fe_status.pending": {"zh": "待复核", "en": "pending"},
    "fe_status.applied": {"zh": "已批准登记", "en": "approved and recorded"},
    "fe_status.rejected": {"zh": "已驳回", "en": "rejected"},
    "fe_status.withdrawn": {"zh": "已撤回", "en": "withdrawn"},
    "fe_status.expired": {"zh": "已失效", "en": "expired"},
    "flash.fe_proposed": {
        "zh": "已提交事项 {id}，等待复核人批准。",
        "en": "Proposal {id} submitted; it awaits an approver.",
    },
    "flash.fe_transferred": {"zh": "转让已登记（记录 {seq}）。", "en": "Transfer recorded (record {seq})."},
    "flash.fe_approved": {
        "zh": "已批准事项 {id}，已登记（记录 {seq}）。",
        "en": "Proposal {id} approved and recorded (record {seq}).",
    },
    "flash.fe_rejected": {"zh": "已驳回事项 {id}。", "en": "Proposal {id} rejected."},
    "flash.fe_withdrawed": {"zh": "已撤回事项 {id}。", "en": "Proposal {id} withdrawn."},
    "flash.fe_untrusted": {
        "zh": "已从信任名单移除，即时生效（记录 {seq}）。",
        "en": "Removed from the trusted list, at once (record {seq}).",
    },
    "flash.fe_controls_set": {"zh": "已设置（记录 {seq}）。", "en": "Set (record {seq})."},
    "err.four_eyes_required": {
        "zh": "须由另一位复核人批准（经办人不能自己批准）",
        "en": "Another user, an approver, must approve it (the proposer cannot)",
    },
    "err.unknown_user": {"zh": "不是本单位的具名用户", "en": "Not a named user of this party"},
    "err.account_not_trusted": {
        "zh": "转入账户不在信任名单中或尚在等待期",
        "en": "The account is not on the trusted list, or still in its delay",
    },
    "err.trust_delay_not_met": {"zh": "信任名单等待期未满", "en": "The trusted-list delay has not passed"},
    "err.unknown_proposal": {"zh": "没有该事项", "en": "No such proposal"},
    "err.proposal_closed": {"zh": "该事项已处理或已失效", "en": "The proposal is closed"},
    "err.user_exists": {"zh": "用户名已存在", "en": "That user id is taken"},
    "err.not_administrator": {
        "zh": "只有单位管理员可以创建用户",
        "en": "Only the administrator creates users",
    },
}
