"""Who may see and act on a contract; the steps each may take are in ``lifecycle.TRANSITIONS``."""

from ...models import Contract, Role, User


class NotAllowed(Exception):
    """A step the contract's status does not allow."""


class Conflict(Exception):
    """Someone else decided the application first."""

    def __init__(self):
        super().__init__("该申请刚被其他登记员处理过，请刷新后查看最新状态")


def _authenticated(user) -> bool:
    return user is not None and user.is_authenticated


def can_apply(user: User | None) -> bool:
    if not _authenticated(user):
        return False
    return user.has_role(Role.broker, Role.admin) or (
        user.has_role(Role.researcher, Role.enterprise) and user.member_org_id is not None
    )


def is_registrar(user: User | None) -> bool:
    return _authenticated(user) and user.has_role(Role.registrar, Role.admin)


def _seller_side(user: User, contract: Contract) -> bool:
    """The applicant, or a confirmed member of the seller organisation (never a mere ``org_id``:
    an unconfirmed member sees only its own applications)."""
    org_id = user.member_org_id if user.has_role(Role.researcher, Role.enterprise) else None
    return contract.applicant_id == user.id or (org_id is not None and org_id == contract.seller_org_id)


def _station_broker(user: User, contract: Contract) -> bool:
    return user.has_role(Role.broker) and (
        contract.broker_id == user.id or (user.station_id is not None and user.station_id == contract.station_id)
    )


def _match_party(user: User, contract: Contract) -> bool:
    """An owner of either listing of the platform match the contract came from (the buyer too)."""
    match = contract.match
    return match is not None and user.id in (match.need.owner_id, match.achievement.owner_id)


def can_view(user: User | None, contract: Contract) -> bool:
    """The full record: the applicant side, the parties of its match, registrars, admins and
    brokers of the station."""
    if not _authenticated(user):
        return False
    return (
        is_registrar(user)
        or _seller_side(user, contract)
        or _station_broker(user, contract)
        or _match_party(user, contract)
    )


def can_act_for(user: User | None, contract: Contract) -> bool:
    """Withdraw, apply for a change or for cancellation."""
    if not _authenticated(user):
        return False
    return user.is_admin or _seller_side(user, contract) or _station_broker(user, contract)


def can_download(user: User | None, contract: Contract) -> bool:
    return _authenticated(user) and (is_registrar(user) or contract.applicant_id == user.id)
