"""Deleting an image row deletes its file, once the deletion commits.

A ``post_delete`` receiver rather than a service call, because it is the one hook that every
ORM path deleting images emits: a service, ``instance.delete()`` in an admin inline, the
cascade from a deleted product and ``QuerySet.delete()`` (with a receiver connected, Django
loads the rows instead of deleting them in one statement). Deletions that bypass the ORM are
caught by the orphan sweep of the catch-up task.
"""

from __future__ import annotations

from django.db.models.signals import post_delete

from catalog.models import ProductImage
from catalog.services.images import product_image_files_delete_on_commit


def product_image_file_delete(sender, instance: ProductImage, using: str, **kwargs) -> None:
    product_image_files_delete_on_commit([instance.file.name], using=using)


def connect() -> None:
    post_delete.connect(product_image_file_delete, sender=ProductImage, dispatch_uid="catalog_image_file_delete")
