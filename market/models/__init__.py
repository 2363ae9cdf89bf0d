"""Database models, one module per area."""

from .base import utcnow
from .challenge import Challenge, ChallengeApplication, ChallengeLog, ChallengeObjection, ChallengeScore, Stage
from .contract import Contract, ContractCounter, ContractEvent, ContractStatus, StatTarget
from .desk import SERVICES, ContactRequest, ContactStatus, DeskEvent, ServiceRequest, ServiceStatus, StationEdit
from .event import Event, EventLog, EventPair, EventSignup, SignupStatus
from .import_job import ImportJob, ImportStatus
from .index_change import IndexChange
from .job import Job, JobStatus
from .listing import Achievement, ListingStatus, Need
from .match import Match, MatchEvent, MatchStatus
from .notification import Notification
from .org import Organisation, Station
from .reference import Term
from .user import LoginAttempt, OrgState, Role, User

__all__ = [
    "utcnow",
    "Term",
    "Organisation",
    "Station",
    "LoginAttempt",
    "OrgState",
    "Role",
    "User",
    "Achievement",
    "ListingStatus",
    "Need",
    "Notification",
    "Match",
    "MatchEvent",
    "MatchStatus",
    "ImportJob",
    "ImportStatus",
    "IndexChange",
    "Job",
    "JobStatus",
    "Contract",
    "ContractCounter",
    "ContractEvent",
    "ContractStatus",
    "StatTarget",
    "SERVICES",
    "ContactRequest",
    "ContactStatus",
    "DeskEvent",
    "ServiceRequest",
    "ServiceStatus",
    "StationEdit",
    "Event",
    "EventLog",
    "EventPair",
    "EventSignup",
    "SignupStatus",
    "Challenge",
    "ChallengeApplication",
    "ChallengeLog",
    "ChallengeObjection",
    "ChallengeScore",
    "Stage",
]
