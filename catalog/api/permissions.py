"""Who may write the catalog through the API: the same model permissions the admin checks.

A write needs a staff account (as admin sign-in does) holding ``catalog.<action>_<model>``
for the model the view writes, where POST → add, PUT/PATCH → change, DELETE → delete. The
groups of migration ``catalog/0002_staff_groups`` grant them: Catalog staff may write
products, variants and images; Merchandisers only view them; a superuser has every permission.
As in admin, prices and stock stay read-only for a Merchandiser even if someone grants them
a product or variant permission by hand.
"""

from __future__ import annotations

from django.db.models import Model
from rest_framework.permissions import SAFE_METHODS, BasePermission

from catalog.admin.roles import is_merchandiser_only

_ACTIONS = {"POST": "add", "PUT": "change", "PATCH": "change", "DELETE": "delete"}


def model_permission(model: type[Model], action: str) -> str:
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


class CatalogModelPermission(BasePermission):
    """Reads open to anyone (or, with ``staff_reads = True`` on the view, to staff with view
    permission); writes as in the module docstring. The view names its model in ``permission_model``.
    """

    message = "Your account may not make this change to the catalog."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            if not getattr(view, "staff_reads", False):
                return True
            action = "view"
        else:
            action = _ACTIONS.get(request.method)
            if action is None:
                return False
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.is_active
            and user.is_staff
            and user.has_perm(model_permission(view.permission_model, action))
        )


class PricesAndStockReadOnlyForMerchandisers(BasePermission):
    """Refuse a write that sets any of the view's ``merchandiser_read_only`` fields to a Merchandiser."""

    message = "Prices and stock are read-only for merchandisers."

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not is_merchandiser_only(request.user):
            return True
        fields = getattr(request.data, "keys", lambda: ())()
        return not set(fields) & set(view.merchandiser_read_only)
