from catalog.models.products import Brand, Category, Product, ProductImage, ProductVariant
from catalog.models.seasons import Season, SeasonalRule, SeasonalRuleChange

__all__ = [
    "Brand",
    "Category",
    "Product",
    "ProductImage",
    "ProductVariant",
    "Season",
    "SeasonalRule",
    "SeasonalRuleChange",
]
