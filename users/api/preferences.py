"""``GET/PUT /api/v1/me/preferences/``: the signed-in shopper's stated preferences."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.models import Brand, Category
from catalog.models.products import Colour
from fashionrec.api import schema
from fashionrec.api.fields import id_field, plain_data
from users.models import UserPreference
from users.services.preferences import preference_update


class PreferenceInputSerializer(serializers.Serializer):
    categories = serializers.ListField(child=id_field(), max_length=50, default=list)
    brands = serializers.ListField(child=id_field(), max_length=50, default=list)
    colours = serializers.ListField(child=serializers.ChoiceField(choices=Colour.choices), max_length=20, default=list)
    sizes = serializers.ListField(child=serializers.CharField(max_length=16), max_length=30, default=list)
    price_min = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, allow_null=True, default=None)
    price_max = serializers.DecimalField(max_digits=10, decimal_places=2, min_value=0, allow_null=True, default=None)

    def validate(self, attrs):
        if (
            attrs["price_min"] is not None
            and attrs["price_max"] is not None
            and attrs["price_min"] > attrs["price_max"]
        ):
            raise serializers.ValidationError({"price_min": ["Must not exceed price_max."]})
        for name, model in (("categories", Category), ("brands", Brand)):
            wanted = list(dict.fromkeys(attrs[name]))
            found = {obj.pk: obj for obj in model.objects.filter(pk__in=wanted)}
            missing = [pk for pk in wanted if pk not in found]
            if missing:
                raise serializers.ValidationError({name: [f"Unknown id(s): {missing}."]})
            attrs[name] = [found[pk] for pk in wanted]
        return attrs


class PreferenceOutputSerializer(serializers.Serializer):
    categories = serializers.ListField(child=serializers.IntegerField())
    brands = serializers.ListField(child=serializers.IntegerField())
    colours = serializers.ListField(child=serializers.CharField())
    sizes = serializers.ListField(child=serializers.CharField())
    price_min = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    price_max = serializers.DecimalField(max_digits=10, decimal_places=2, allow_null=True)
    has_taste = serializers.BooleanField(help_text="Likes, carts or purchases have shaped a taste vector.")
    taste_weight = serializers.FloatField()
    dislike_weight = serializers.FloatField()


def _output(preference: UserPreference | None) -> dict:
    if preference is None:
        preference = UserPreference()
        categories, brands = [], []
    else:
        categories = sorted(preference.categories.values_list("pk", flat=True))
        brands = sorted(preference.brands.values_list("pk", flat=True))
    return PreferenceOutputSerializer(
        {
            "categories": categories,
            "brands": brands,
            "colours": preference.colours,
            "sizes": preference.sizes,
            "price_min": preference.price_min,
            "price_max": preference.price_max,
            "has_taste": preference.taste_vector is not None,
            "taste_weight": preference.taste_weight,
            "dislike_weight": preference.dislike_weight,
        }
    ).data


class PreferencesApi(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="me_preferences_retrieve",
        summary="My preferences",
        responses={200: PreferenceOutputSerializer, 401: schema.UNAUTHENTICATED, 403: schema.UNAUTHENTICATED},
    )
    def get(self, request: Request) -> Response:
        preference = UserPreference.objects.filter(user=request.user).first()
        return Response(_output(preference))

    @extend_schema(
        operation_id="me_preferences_update",
        summary="Replace my preferences",
        description="Boosts matching products in my recommendations (weights: docs/database.md, Score).",
        request=PreferenceInputSerializer,
        responses={
            200: PreferenceOutputSerializer,
            400: schema.BAD_REQUEST,
            401: schema.UNAUTHENTICATED,
            403: schema.UNAUTHENTICATED,
        },
    )
    def put(self, request: Request) -> Response:
        serializer = PreferenceInputSerializer(
            data=plain_data(request.data, ("categories", "brands", "colours", "sizes"))
        )
        serializer.is_valid(raise_exception=True)
        preference = preference_update(user=request.user, **serializer.validated_data)
        return Response(_output(preference))
