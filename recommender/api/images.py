"""``/api/v1/products/{id}/images/``: staff upload product photos and follow their processing.

The catalog stores the photo (``catalog.services.images``); the answer shows the garments this
app found in it, so the endpoint lives here."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from catalog.api.permissions import CatalogModelPermission
from catalog.errors import ImageNotFound, ProductNotFound
from catalog.models import Product, ProductImage
from catalog.services.images import product_image_create, product_image_delete
from fashionrec.api.fields import parse_id


class GarmentOutputSerializer(serializers.Serializer):
    box = serializers.SerializerMethodField()
    label = serializers.CharField()
    confidence = serializers.FloatField()
    is_whole_image = serializers.BooleanField()
    is_main = serializers.BooleanField(help_text="The image's main garment: the one a product query uses.")
    encoder_version = serializers.CharField()

    def get_box(self, garment) -> list[int]:
        return [garment.box_x1, garment.box_y1, garment.box_x2, garment.box_y2]


class ProductImageOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    product_id = serializers.IntegerField()
    url = serializers.SerializerMethodField()
    is_primary = serializers.BooleanField()
    checksum = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)
    status = serializers.CharField(help_text="pending → processing → ready | failed")
    error = serializers.CharField(help_text="Why processing failed (empty otherwise).")
    encoder_version = serializers.CharField()
    attempts = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    processed_at = serializers.DateTimeField(allow_null=True)
    garments = GarmentOutputSerializer(many=True)

    def get_url(self, image: ProductImage) -> str:
        return image.file.url if image.file else ""


class ProductImageInputSerializer(serializers.Serializer):
    image = serializers.FileField(allow_empty_file=True, use_url=False)
    is_primary = serializers.BooleanField(default=False)


def _product_or_404(product_id: str) -> Product:
    # The route matches any string so that "abc" or an id beyond bigint gets the API's 404 body.
    pk = parse_id(product_id)
    product = Product.objects.filter(pk=pk).first() if pk else None
    if product is None:
        raise ProductNotFound(product_id)
    return product


def _image_with_garments(image_id: int) -> ProductImage:
    return ProductImage.objects.prefetch_related("garments").get(pk=image_id)


_ERROR = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorBody",
            {"code": serializers.CharField(), "message": serializers.CharField(), "details": serializers.DictField()},
        )
    },
)


class ProductImageListCreateApi(APIView):
    permission_classes = [CatalogModelPermission]
    permission_model = ProductImage
    staff_reads = True  # processing states and errors are for staff
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        operation_id="product_images_list",
        summary="A product's images with their processing status",
        responses={200: ProductImageOutputSerializer(many=True), 404: _ERROR},
    )
    def get(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id)
        images = product.images.prefetch_related("garments").order_by("pk")
        return Response(ProductImageOutputSerializer(images, many=True).data)

    @extend_schema(
        operation_id="product_images_create",
        summary="Upload a product photo (staff)",
        description=(
            "Stores the photo and enqueues garment detection and encoding. The answer carries the "
            "image's status: `pending` while a worker has it queued (poll the list), or `ready` at once "
            "when no broker is configured and processing runs in-process."
        ),
        request={"multipart/form-data": ProductImageInputSerializer},
        responses={
            201: ProductImageOutputSerializer,
            400: OpenApiResponse(_ERROR, description="Empty or truncated image, or no `image` field."),
            404: _ERROR,
            409: OpenApiResponse(_ERROR, description="The product already has this exact image."),
            413: OpenApiResponse(_ERROR, description="File, pixel count or decoded size over the limits."),
            415: OpenApiResponse(_ERROR, description="Not an image in an accepted format or sample type."),
        },
        examples=[
            OpenApiExample(
                "Rejected upload",
                value={
                    "error": {
                        "code": "unsupported_format",
                        "message": "PDF documents are not accepted; upload a photo.",
                        "details": {},
                    }
                },
                response_only=True,
                status_codes=["415"],
            )
        ],
    )
    def post(self, request: Request, product_id: str) -> Response:
        product = _product_or_404(product_id)
        serializer = ProductImageInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # ImageRejected (413, 415, 400), ImageDuplicate (409) and ProductNotFound (deleted while the
        # upload ran: 404, as if the upload came later) answer through the exception handler
        image = product_image_create(
            product=product,
            file=serializer.validated_data["image"],
            is_primary=serializer.validated_data["is_primary"],
        )
        # Re-read: with in-process processing (no broker) the image is already ready here.
        return Response(ProductImageOutputSerializer(_image_with_garments(image.pk)).data, status=201)


class ProductImageDetailApi(APIView):
    permission_classes = [CatalogModelPermission]
    permission_model = ProductImage
    staff_reads = True

    @extend_schema(
        operation_id="product_images_destroy",
        summary="Delete a product photo (staff)",
        description="Deletes the image and its garments; the file is deleted once the deletion commits, "
        "and its `/media/` URL then answers 404.",
        request=None,
        responses={204: None, 403: _ERROR, 404: _ERROR},
    )
    def delete(self, request: Request, product_id: str, image_id: str) -> Response:
        product = _product_or_404(product_id)
        pk = parse_id(image_id)
        image = ProductImage.objects.filter(pk=pk, product=product).first() if pk else None
        if image is None:
            raise ImageNotFound(image_id, product_id=product_id)
        product_image_delete(image=image)
        return Response(status=status.HTTP_204_NO_CONTENT)
