from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

# A rule moves a product's score by at most this much. Visual similarity lies in [-1, 1] and
# the default similarity weight is 1.0, so ±0.5 lets a rule reorder close neighbours without
# letting a merchandiser push an unrelated garment above a near-duplicate.
RULE_WEIGHT_MIN = -0.5
RULE_WEIGHT_MAX = 0.5


class Hemisphere(models.TextChoices):
    NORTH = "north", "Northern"
    SOUTH = "south", "Southern"


def _day_of_year_key(month: int, day: int) -> int:
    return month * 100 + day


class Season(models.Model):
    """A named window of the year (month/day to month/day, inclusive); it may wrap the new year."""

    name = models.CharField(max_length=60)
    slug = models.SlugField(max_length=60)
    hemisphere = models.CharField(max_length=5, choices=Hemisphere.choices, default=Hemisphere.NORTH)
    start_month = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(12)])
    start_day = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(31)])
    end_month = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(12)])
    end_day = models.PositiveSmallIntegerField(validators=[MinValueValidator(1), MaxValueValidator(31)])

    class Meta:
        ordering = ["hemisphere", "start_month", "start_day"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "hemisphere"], name="season_unique_slug_hemisphere"),
            models.CheckConstraint(
                condition=Q(
                    start_month__range=(1, 12),
                    end_month__range=(1, 12),
                    start_day__range=(1, 31),
                    end_day__range=(1, 31),
                ),
                name="season_valid_month_day",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_hemisphere_display()})"

    def clean(self) -> None:
        for month, day, label in ((self.start_month, self.start_day, "start"), (self.end_month, self.end_day, "end")):
            if month is None or day is None:
                continue
            try:
                dt.date(2024, month, day)  # a leap year, so 29 February is a valid boundary
            except ValueError:
                raise ValidationError({f"{label}_day": f"{day} is not a day of month {month}."}) from None

    def contains(self, date: dt.date) -> bool:
        start = _day_of_year_key(self.start_month, self.start_day)
        end = _day_of_year_key(self.end_month, self.end_day)
        today = _day_of_year_key(date.month, date.day)
        if start <= end:
            return start <= today <= end
        return today >= start or today <= end  # the window wraps the new year


class SeasonalRule(models.Model):
    """What merchandisers edit: boost or demote a slice of the catalog during a window.

    The window is either a season (recurring every year) or explicit dates. The target is any
    combination of category (with its sub-categories), brand, colour and tag; a product must
    match every target that is set. ``weight`` is added to the product's score while the
    rule is active, bounded by ``RULE_WEIGHT_MIN``/``RULE_WEIGHT_MAX``.
    """

    name = models.CharField(max_length=120)
    season = models.ForeignKey(Season, null=True, blank=True, on_delete=models.PROTECT, related_name="rules")
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    # PROTECT, not CASCADE (issue 13, item 12): a rule is a merchandiser's decision, and
    # deleting a brand or category (catalog staff, who may only view rules) silently deleted it
    # with no history record. SET_NULL would be worse: a rule for "brand X in red" would widen to
    # every red product. So the target cannot go while a rule points at it; the rule is changed
    # or deleted first through catalog.services.rules, which writes its SeasonalRuleChange.
    target_category = models.ForeignKey(
        "catalog.Category", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    target_brand = models.ForeignKey("catalog.Brand", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    target_colour = models.CharField(max_length=10, blank=True)
    target_tag = models.CharField(max_length=40, blank=True)
    weight = models.FloatField(
        help_text=f"Added to the score: from {RULE_WEIGHT_MIN} (demote) to {RULE_WEIGHT_MAX} (boost).",
        validators=[MinValueValidator(RULE_WEIGHT_MIN), MaxValueValidator(RULE_WEIGHT_MAX)],
    )
    priority = models.IntegerField(
        default=0, help_text="When several rules match a product, the highest priority wins."
    )
    is_active = models.BooleanField(default=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-priority", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gte=RULE_WEIGHT_MIN, weight__lte=RULE_WEIGHT_MAX), name="rule_weight_in_bounds"
            ),
            models.CheckConstraint(
                condition=(Q(season__isnull=False, starts_on__isnull=True, ends_on__isnull=True))
                | (
                    Q(
                        season__isnull=True,
                        starts_on__isnull=False,
                        ends_on__isnull=False,
                        ends_on__gte=models.F("starts_on"),
                    )
                ),
                name="rule_season_xor_valid_window",
            ),
            models.CheckConstraint(
                condition=Q(target_category__isnull=False)
                | Q(target_brand__isnull=False)
                | ~Q(target_colour="")
                | ~Q(target_tag=""),
                name="rule_has_target",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.season_id and (self.starts_on or self.ends_on):
            errors["season"] = "Choose either a season or a date window, not both."
        elif not self.season_id:
            if not self.starts_on or not self.ends_on:
                errors["starts_on"] = "Choose a season, or give both a start and an end date."
            elif self.ends_on < self.starts_on:
                errors["ends_on"] = f"The window ends ({self.ends_on}) before it starts ({self.starts_on})."
        if self.weight is not None and not RULE_WEIGHT_MIN <= self.weight <= RULE_WEIGHT_MAX:
            errors["weight"] = f"The weight must be between {RULE_WEIGHT_MIN} and {RULE_WEIGHT_MAX}; got {self.weight}."
        if not (self.target_category_id or self.target_brand_id or self.target_colour or self.target_tag):
            errors["target_category"] = "Choose at least one target: a category, a brand, a colour or a tag."
        if errors:
            raise ValidationError(errors)

    def is_active_on(self, date: dt.date) -> bool:
        if not self.is_active:
            return False
        if self.season_id:
            return self.season.contains(date)
        return self.starts_on <= date <= self.ends_on


class SeasonalRuleChange(models.Model):
    """An audit record: who changed a rule, when, and which fields (old → new)."""

    rule = models.ForeignKey(SeasonalRule, null=True, on_delete=models.SET_NULL, related_name="changes")
    rule_name = models.CharField(max_length=120)
    action = models.CharField(
        max_length=10, choices=[("create", "Created"), ("update", "Updated"), ("delete", "Deleted")]
    )
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField(auto_now_add=True)
    changes = models.JSONField(default=dict)

    class Meta:
        ordering = ["-changed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.action} {self.rule_name} at {self.changed_at:%Y-%m-%d %H:%M}"
