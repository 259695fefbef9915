"""Who may be contacted by a campaign, decided at launch for every targeted customer at once,
and frozen with the reason each customer is in or out.

The checks run in the order of `Reason` below and the first that fails is the reason kept:
a customer both erased and without consent is out as `ERASED`. Control customers pass the
same checks for the arm they would have been in (domain/campaigns/assignment.py), so each arm
and its control slice hold the same kind of customer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from domain.campaigns.model import ContactChannel
from domain.errors import InvalidInput
from domain.interactions import Channel
from domain.privacy.consents import ConsentChannel


class Reason(enum.StrEnum):
    """Why a targeted customer is in or out, in the order the checks run."""

    ERASED = "erased"  # personal data erased: the bank keeps the accounts, not the contact
    LEGAL_HOLD = "legal_hold"  # under a legal hold that has not ended
    DOUBTFUL = "doubtful"  # relationship state 可疑: the bank is reviewing, not selling
    EXIT = "exit"  # relationship state 退出: the bank runs its exit plan
    OPEN_COMPLAINT = "open_complaint"  # a complaint not yet answered
    DO_NOT_CONTACT = "do_not_contact"  # on the bank's do-not-contact list
    # No marketing consent for the arm's channel. A product notice to a customer holding an
    # offered product (its rate changed, its terms) is service, not marketing: it needs none.
    NO_CONSENT = "no_consent"
    UNREACHABLE = "unreachable"  # no RM for a visit, no phone for a call or SMS, no e-mail
    FREQUENCY_CAP = "frequency_cap"  # contacted as often as the contact policy allows
    ELIGIBLE = "eligible"


# The consent that allows each channel's marketing; the counter has no channel record of its
# own, so only the customer's answer for all channels decides it.
CONSENT_FOR = {
    ContactChannel.RM_VISIT: ConsentChannel.RM_VISIT,
    ContactChannel.CALL_CENTER: ConsentChannel.PHONE,
    ContactChannel.COUNTER: ConsentChannel.ALL,
    ContactChannel.APP_PUSH: ConsentChannel.MOBILE_APP,
    ContactChannel.SMS: ConsentChannel.SMS,
    ContactChannel.EMAIL: ConsentChannel.EMAIL,
}


class Needs(enum.StrEnum):
    """What a channel needs to reach a customer at all."""

    NOTHING = "nothing"
    RM = "rm"
    PHONE = "phone"
    EMAIL = "email"


NEEDS = {
    ContactChannel.RM_VISIT: Needs.RM,
    ContactChannel.CALL_CENTER: Needs.PHONE,
    ContactChannel.COUNTER: Needs.NOTHING,
    ContactChannel.APP_PUSH: Needs.NOTHING,  # the app system knows who has the app
    ContactChannel.SMS: Needs.PHONE,
    ContactChannel.EMAIL: Needs.EMAIL,
}

# Where a contact lands on the timeline.
TIMELINE_CHANNEL = {
    ContactChannel.RM_VISIT: Channel.RM_VISIT,
    ContactChannel.CALL_CENTER: Channel.CALL_CENTER,
    ContactChannel.COUNTER: Channel.COUNTER,
    ContactChannel.APP_PUSH: Channel.MOBILE_APP,
    ContactChannel.SMS: Channel.SMS,
    ContactChannel.EMAIL: Channel.EMAIL,
}


@dataclass(frozen=True, slots=True)
class ContactPolicy:
    """The contact-frequency cap across all campaigns: at most `max_contacts` planned or made
    contacts per customer in any `window_days` (treated members of campaigns launched in the
    window, and marketing contacts recorded outside campaigns)."""

    max_contacts: int
    window_days: int


DEFAULT_POLICY = ContactPolicy(max_contacts=4, window_days=30)


def validate_policy(policy: ContactPolicy) -> ContactPolicy:
    if not 1 <= policy.window_days <= 365:
        raise InvalidInput("windowDays", "a window of 1 to 365 days")
    if not 0 <= policy.max_contacts <= 100:
        raise InvalidInput("maxContacts", "0 to 100 contacts in the window")
    return policy


MAX_SUPPRESSION_REASON = 500


def validate_suppression_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text or len(text) > MAX_SUPPRESSION_REASON:
        raise InvalidInput("reason", f"say why, in 1 to {MAX_SUPPRESSION_REASON} characters")
    return text
