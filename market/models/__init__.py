"""Database models, one module per area."""
from .base import utcnow
from .reference import Term
from .org import Organisation, Station
from .user import LoginAttempt, OrgState, Role, User
from .listing import Achievement, ListingStatus, Need
from .notification import Notification
from .match import Match, MatchEvent, MatchStatus
from .contract import Contract, ContractCounter, ContractEvent, ContractStatus, StatTarget
from .import_job import ImportJob, ImportStatus
from .desk import SERVICES, ContactRequest, ContactStatus, DeskEvent, ServiceRequest, ServiceStatus, StationEdit
from .event import Event, EventLog, EventPair, EventSignup, SignupStatus
from .challenge import Challenge, ChallengeApplication, ChallengeLog, ChallengeObjection, ChallengeScore, Stage

__all__ = [
    "utcnow", "Term", "Organisation", "Station", "LoginAttempt", "OrgState", "Role", "User",
    "Achievement", "ListingStatus", "Need", "Notification", "Match", "MatchEvent", "MatchStatus",
    "ImportJob", "ImportStatus",
    "Contract", "ContractCounter", "ContractEvent", "ContractStatus", "StatTarget",
    "SERVICES", "ContactRequest", "ContactStatus", "DeskEvent", "ServiceRequest", "ServiceStatus", "StationEdit",
    "Event", "EventLog", "EventPair", "EventSignup", "SignupStatus",
    "Challenge", "ChallengeApplication", "ChallengeLog", "ChallengeObjection", "ChallengeScore", "Stage",
]
