"""The demo's participants: Zhejiang bureaus from the province down to Yuyao, enterprises, banks,
a mussel cooperative, an auditor and the operator, registered with one call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlmodel import Session

from accounts.identifiers import complete_credit_code
from accounts.model import (
    AuditorSpec,
    BankSpec,
    BureauSpec,
    CooperativeSpec,
    EnterpriseSpec,
    OperatorSpec,
    Participant,
    ParticipantSpec,
)
from accounts.service import register_participant
from ledger.crypto import SigningKey
from ledger.service import Registry

__all__ = ["DEMO_SPECS", "DemoParticipant", "demo_key", "register_demo"]


# Enterprises, banks and the cooperative are fictional (名称含“示例”); their credit codes are
# well-formed but synthetic (organization code body EXAMPLE<n>), and every signing key comes from
# a public seed, so nothing here may be used outside a demo or a test.


def _code(division: str, n: int, prefix: str = "91") -> str:
    return complete_credit_code(prefix, division, f"EXAMPLE{n}")


_YUYAO_CHEM = _code("330281", 1)

DEMO_SPECS: dict[str, ParticipantSpec] = {
    "operator": OperatorSpec("zj-registry", "浙江省排污权交易登记中心（示例）"),
    "auditor": AuditorSpec("zj-audit", "示例会计师事务所"),
    "province": BureauSpec("330000", "浙江省生态环境厅"),
    "ningbo": BureauSpec("330200", "宁波市生态环境局"),
    "yuyao": BureauSpec("330281", "宁波市生态环境局余姚分局"),
    "wenzhou": BureauSpec("330300", "温州市生态环境局"),
    "zhoushan": BureauSpec("330900", "舟山市生态环境局"),
    "yuyao_chem": EnterpriseSpec(_YUYAO_CHEM, "余姚示例化工有限公司", "330281", _YUYAO_CHEM + "001P"),
    "yuyao_dye": EnterpriseSpec(_code("330281", 2), "余姚示例印染有限公司", "330281"),
    "ningbo_petro": EnterpriseSpec(_code("330200", 3), "宁波示例石化有限公司", "330200"),
    "zhoushan_ship": EnterpriseSpec(_code("330900", 4), "舟山示例船舶修造有限公司", "330900"),
    "bank_ningbo": BankSpec(_code("330200", 5), "示例银行宁波分行", "宁波分行", "330200"),
    "bank_yuyao": BankSpec(_code("330281", 6), "示例银行余姚支行", "余姚支行", "330281"),
    "shengsi_coop": CooperativeSpec(
        "嵊泗示例贻贝养殖专业合作社", "330922", credit_code=_code("330922", 7, "93")
    ),
}


@dataclass(frozen=True, slots=True)
class DemoParticipant:
    participant: Participant
    key: SigningKey

    @property
    def party(self) -> str:
        return self.participant.party


def demo_key(party: str) -> SigningKey:
    """A demo party's signing key, from a public seed: reproducible, hence never secret."""
    return SigningKey.from_seed(hashlib.sha256(b"ecoledger-demo-key\x00" + party.encode()).digest())


def register_demo(session: Session, *, registry: Registry) -> dict[str, DemoParticipant]:
    """Register every demo participant with its key and accounts; keyed by the aliases above."""
    out: dict[str, DemoParticipant] = {}
    for alias, spec in DEMO_SPECS.items():
        key = demo_key(spec.participant().party)
        participant = register_participant(session, registry=registry, spec=spec, public_key=key.public)
        out[alias] = DemoParticipant(participant, key)
    return out
