"""Django admin for the catalog, split by what people do: products and their images, seasons and rules.

Importing the modules registers their ``ModelAdmin`` classes.
"""

from catalog.admin import products, rules  # noqa: F401
