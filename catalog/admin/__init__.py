"""Django admin for the catalog, split by what people do: products and images, seasons and rules.

Importing the modules registers their ``ModelAdmin`` classes.
"""

from catalog.admin import images, products, rules  # noqa: F401
