"""The learning loop's status machines: suggestion, learned entry and learned version.

    suggestion:  pending --approve--> approved --retire--> retired
                         --edit-----> edited   --retire--> retired
                         --reject---> rejected
                         --expire---> expired  --revive--> pending;  expired --reject--> rejected
    entry:       active --supersede | rollback--> active;  active --retire--> retired
    version:     current --supersede--> superseded --restore--> current
                 current --roll_back--> rolled_back

Retiring an entry (or rolling back its only version) retires the suggestions behind it, so the
console never shows an approved suggestion whose knowledge is gone.
"""

from __future__ import annotations

from enum import StrEnum

from firstlast.learning.records import EntryStatus, SuggestionStatus, VersionStatus
from firstlast.lifecycle import Lifecycle


class SuggestionEvent(StrEnum):
    APPROVE = "approve"
    EDIT = "edit"  # approve with an edited answer
    REJECT = "reject"
    RETIRE = "retire"
    EXPIRE = "expire"  # nobody reviewed it within the review window
    REVIVE = "revive"  # an expired suggestion back in the queue


class EntryEvent(StrEnum):
    SUPERSEDE = "supersede"  # a newer approved version
    ROLLBACK = "roll back"  # to the previous version
    RETIRE = "retire"  # also: roll back the only version


class VersionEvent(StrEnum):
    SUPERSEDE = "supersede"
    ROLL_BACK = "roll back"
    RESTORE = "restore"


SUGGESTION: Lifecycle[SuggestionStatus, SuggestionEvent] = Lifecycle(
    "suggestion",
    SuggestionStatus,
    {
        (SuggestionStatus.PENDING, SuggestionEvent.APPROVE): SuggestionStatus.APPROVED,
        (SuggestionStatus.PENDING, SuggestionEvent.EDIT): SuggestionStatus.EDITED,
        (SuggestionStatus.PENDING, SuggestionEvent.REJECT): SuggestionStatus.REJECTED,
        (SuggestionStatus.APPROVED, SuggestionEvent.RETIRE): SuggestionStatus.RETIRED,
        (SuggestionStatus.EDITED, SuggestionEvent.RETIRE): SuggestionStatus.RETIRED,
        (SuggestionStatus.PENDING, SuggestionEvent.EXPIRE): SuggestionStatus.EXPIRED,
        (SuggestionStatus.EXPIRED, SuggestionEvent.REVIVE): SuggestionStatus.PENDING,
        (SuggestionStatus.EXPIRED, SuggestionEvent.REJECT): SuggestionStatus.REJECTED,
    },
)
ENTRY: Lifecycle[EntryStatus, EntryEvent] = Lifecycle(
    "learned entry",
    EntryStatus,
    {
        (EntryStatus.ACTIVE, EntryEvent.SUPERSEDE): EntryStatus.ACTIVE,
        (EntryStatus.ACTIVE, EntryEvent.ROLLBACK): EntryStatus.ACTIVE,
        (EntryStatus.ACTIVE, EntryEvent.RETIRE): EntryStatus.RETIRED,
    },
)
VERSION: Lifecycle[VersionStatus, VersionEvent] = Lifecycle(
    "learned version",
    VersionStatus,
    {
        (VersionStatus.CURRENT, VersionEvent.SUPERSEDE): VersionStatus.SUPERSEDED,
        (VersionStatus.CURRENT, VersionEvent.ROLL_BACK): VersionStatus.ROLLED_BACK,
        (VersionStatus.SUPERSEDED, VersionEvent.RESTORE): VersionStatus.CURRENT,
    },
)
