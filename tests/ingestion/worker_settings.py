"""Settings of the Celery worker subprocesses started by the ingestion tests.

The project settings, plus a kombu restore scan every second: a test that kills a worker
waits for Redis to redeliver its unacknowledged task after the (short) visibility timeout,
instead of the default scan every ~100 s.
"""

from fashionrec.settings import *  # noqa: F403
from fashionrec.settings import CELERY_BROKER_TRANSPORT_OPTIONS

CELERY_BROKER_TRANSPORT_OPTIONS = {
    **CELERY_BROKER_TRANSPORT_OPTIONS,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
