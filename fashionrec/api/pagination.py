from rest_framework.pagination import LimitOffsetPagination


class CappedLimitOffsetPagination(LimitOffsetPagination):
    """limit/offset pagination; a client cannot ask for more than ``max_limit`` rows a page."""

    default_limit = 24
    max_limit = 100
