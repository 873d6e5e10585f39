"""Django admin for the recommender: encoder versions, garments and corrections, and what it adds to
the catalog's pages (garment boxes and crop correction on images, the similar panel on products,
the seasonal rule preview). Importing the modules registers their ``ModelAdmin`` classes.
"""

from recommender.admin import images, products, rules, versions  # noqa: F401
