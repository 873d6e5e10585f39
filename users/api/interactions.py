"""``POST /api/v1/me/interactions/``: like, dislike, add to cart, purchase, view."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.errors import ProductNotFound
from catalog.models import Product
from fashionrec.api import schema
from fashionrec.api.fields import id_field, plain_data
from users.api.throttles import InteractionsThrottle
from users.models import InteractionKind
from users.services.interactions import interaction_record


class InteractionInputSerializer(serializers.Serializer):
    product_id = id_field()
    kind = serializers.ChoiceField(choices=InteractionKind.choices)


class InteractionOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    kind = serializers.CharField()
    created_at = serializers.DateTimeField()
    learned = serializers.BooleanField(help_text="Whether my taste (or dislike) vector moved.")


class InteractionsApi(APIView):
    permission_classes = [IsAuthenticated]
    throttle_classes = [InteractionsThrottle]

    @extend_schema(
        operation_id="me_interactions_create",
        summary="Record an interaction with a product",
        description="Likes, carts and purchases move my taste vector; a dislike demotes similar products for me.",
        request=InteractionInputSerializer,
        responses={
            201: InteractionOutputSerializer,
            400: schema.BAD_REQUEST,
            401: schema.UNAUTHENTICATED,
            403: schema.UNAUTHENTICATED,
            404: schema.NOT_FOUND,
            429: schema.THROTTLED,
        },
    )
    def post(self, request: Request) -> Response:
        serializer = InteractionInputSerializer(data=plain_data(request.data, ()))
        serializer.is_valid(raise_exception=True)
        product_id = serializer.validated_data["product_id"]
        if not Product.objects.filter(pk=product_id, is_active=True).exists():
            raise ProductNotFound(product_id)
        interaction, learned = interaction_record(
            user=request.user, product_id=product_id, kind=serializer.validated_data["kind"]
        )
        body = InteractionOutputSerializer(
            {
                "id": interaction.pk,
                "product_id": interaction.product_id,
                "kind": interaction.kind,
                "created_at": interaction.created_at,
                "learned": learned,
            }
        ).data
        return Response(body, status=status.HTTP_201_CREATED)
