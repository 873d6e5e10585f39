"""Rate limits of the recommendation endpoints (rates: settings ``DEFAULT_THROTTLE_RATES``).

An image query costs a decode, a detection and an encoding, so anonymous callers get a
tighter budget (``FASHIONREC_ANON_RECOMMEND_RATE``, default 60/min per IP) than signed-in
ones (``FASHIONREC_USER_RECOMMEND_RATE``, 600/min per user). Counters live in the shared
``throttle`` cache (``fashionrec.api.throttling``).
"""

from rest_framework.throttling import AnonRateThrottle, UserRateThrottle

from fashionrec.api.throttling import SharedCacheThrottleMixin


class AnonRecommendationsThrottle(SharedCacheThrottleMixin, AnonRateThrottle):
    scope = "anon_recommendations"


class UserRecommendationsThrottle(SharedCacheThrottleMixin, UserRateThrottle):
    scope = "user_recommendations"


RECOMMENDATION_THROTTLES = [AnonRecommendationsThrottle, UserRecommendationsThrottle]
