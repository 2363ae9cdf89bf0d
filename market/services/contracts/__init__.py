"""技术合同认定登记: apply, register (登记编号), refuse, withdraw, change (变更), cancel (注销).

Applicants are the seller side: researchers and enterprise users for their own organisation, or
brokers and admins for a client. Registrars (登记员) and admins decide. The package:
``access`` (who may see and act), ``validation`` (an application's values), ``numbering``
(登记编号), ``lifecycle`` (the steps, their transition table and deadlines) and ``reading``
(lists, queue, versions); callers use the names re-exported here.
"""
from .access import Conflict, NotAllowed, _seller_side, can_act_for, can_apply, can_download, can_view, is_registrar
from .lifecycle import (
                     ACTION_LABELS,
                     LONG_REVIEW_AMOUNT,
                     LONG_REVIEW_DAYS,
                     REVIEW_DAYS,
                     TRANSITIONS,
                     Move,
                     cancel,
                     check,
                     check_status,
                     days_left,
                     deadline,
                     decline_cancel,
                     moves,
                     pending_change,
                     refusal_text,
                     refuse,
                     register,
                     request_cancel,
                     review_days,
                     submit,
                     submit_change,
                     withdraw,
                     working_days_left,
)
from .numbering import allocate_number
from .reading import (
                     contract_of,
                     linkable_matches,
                     may_apply_for,
                     pending_count,
                     queue,
                     values_from_match,
                     values_of,
                     versions,
                     visible_query,
)
from .validation import (
                     CHECKLIST,
                     CHINA,
                     FIELDS,
                     GOALS,
                     MAX_CONTRACT_AMOUNT,
                     NATURES,
                     OPEN,
                     REFUSAL_REASONS,
                     SIDES,
                     TYPES,
                     check_approval,
                     locality,
                     may_link,
                     nature,
                     validate,
                     vocab,
)

__all__ = [
    "ACTION_LABELS", "CHECKLIST", "CHINA", "FIELDS", "GOALS", "LONG_REVIEW_AMOUNT", "LONG_REVIEW_DAYS",
    "MAX_CONTRACT_AMOUNT", "NATURES", "OPEN", "REFUSAL_REASONS", "REVIEW_DAYS", "SIDES", "TRANSITIONS", "TYPES",
    "Conflict", "Move", "NotAllowed", "_seller_side", "allocate_number", "can_act_for", "can_apply", "can_download",
    "can_view", "cancel", "check", "check_approval", "check_status", "contract_of", "days_left", "deadline",
    "decline_cancel", "is_registrar", "linkable_matches", "locality", "may_apply_for", "may_link", "moves", "nature",
    "pending_change", "pending_count", "queue", "refusal_text", "refuse", "register", "request_cancel",
    "review_days", "submit", "submit_change", "validate", "values_from_match", "values_of", "versions",
    "visible_query", "vocab", "withdraw", "working_days_left",
]
