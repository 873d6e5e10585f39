"""Who is who in admin. The groups and their permissions come from migration ``catalog/0002_staff_groups``."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

MERCHANDISER = "Merchandiser"
CATALOG_STAFF = "Catalog staff"


def is_merchandiser_only(user: AbstractBaseUser) -> bool:
    """A member of Merchandiser who is neither a superuser nor in Catalog staff.

    Prices and stock are read-only for them even if someone grants them product change
    permission by hand: the group's intent ("cannot edit prices or stock") is enforced here
    as well as by its permissions.
    """
    if not user.is_authenticated or user.is_superuser:
        return False
    names = _group_names(user)
    return MERCHANDISER in names and CATALOG_STAFF not in names


def _group_names(user: AbstractBaseUser) -> set[str]:
    # Cached on the user object: admin asks several times per page.
    cached = getattr(user, "_fashionrec_group_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._fashionrec_group_names = cached
    return cached
