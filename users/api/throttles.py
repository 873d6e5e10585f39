"""Rate limit of ``POST /api/v1/me/interactions/`` (rate: ``FASHIONREC_INTERACTION_RATE``, 120/min per user).

Every like, cart or purchase recomputes the shopper's taste (or dislike) vector in the database;
a script replaying interactions in a loop would keep rewriting it.
"""

from rest_framework.throttling import UserRateThrottle

from fashionrec.api.throttling import SharedCacheThrottleMixin


class InteractionsThrottle(SharedCacheThrottleMixin, UserRateThrottle):
    scope = "interactions"
