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

__all__ = ["DEMO_SPECS", "SCENARIO_SPECS", "DemoParticipant", "demo_key", "register_demo"]


# Enterprises, banks and the cooperative are fictional (名称含“示例”); their credit codes are
# well-formed but synthetic (organization code body EXAMPLE<n> or EXAMPL<nn>), and every signing key
# ``demo_key`` gives comes from a public seed, so nothing here may be used outside a demo or a test.


def _code(division: str, n: int, prefix: str = "91") -> str:
    # The organization code body is 8 characters: EXAMPLE1..EXAMPLE9, then EXAMPL10, EXAMPL11...
    return complete_credit_code(prefix, division, f"EXAMPLE{n}" if n < 10 else f"EXAMPL{n}")


def _enterprise(n: int, division: str, name: str, *, permit: bool = True) -> EnterpriseSpec:
    code = _code(division, n)
    return EnterpriseSpec(code, name, division, code + "001P" if permit else None)


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


# The further enterprises the ``make demo`` scenario (api/demo) needs on top of DEMO_SPECS: holders with
# permits in each city, Zhoushan's VOCs pilot firms and Yuyao bidders. Kept apart from DEMO_SPECS so
# the tests that register the whole demo keep their small world.
SCENARIO_SPECS: dict[str, ParticipantSpec] = {
    "yuyao_paper": _enterprise(10, "330281", "余姚示例造纸有限公司"),
    "yuyao_mould": _enterprise(11, "330281", "余姚示例模具有限公司", permit=False),
    "ningbo_textile": _enterprise(12, "330200", "宁波示例纺织有限公司"),
    "zhoushan_seafood": _enterprise(13, "330900", "舟山示例水产加工有限公司"),
    "zhoushan_tank": _enterprise(14, "330900", "舟山示例石化储运有限公司"),
    "zhoushan_coating": _enterprise(15, "330900", "舟山示例涂装有限公司"),
    "wenzhou_leather": _enterprise(16, "330300", "温州示例合成革有限公司"),
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


def register_demo(
    session: Session, *, registry: Registry, custody: bool = False
) -> dict[str, DemoParticipant]:
    """Register every demo participant with its key and accounts; keyed by the aliases above.
    ``custody``: each key is registered as held by the registry (to be taken into its custody)."""
    out: dict[str, DemoParticipant] = {}
    for alias, spec in DEMO_SPECS.items():
        key = demo_key(spec.participant().party)
        participant = register_participant(
            session, registry=registry, spec=spec, public_key=key.public, custody=custody
        )
        out[alias] = DemoParticipant(participant, key)
    return out
