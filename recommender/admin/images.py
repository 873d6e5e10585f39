"""Product images: processing status, detected garments drawn as boxes, reprocessing, crop correction.

A product image's page is about its processing, so the recommender registers it (the catalog
never imports the recommender); images are uploaded on their product's page.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.html import format_html

from catalog.admin.overlay import Box, image_with_boxes
from catalog.models import ProductImage
from catalog.services.images import product_image_reprocess
from recommender.admin.boxes import LABEL_COLOURS, garment_boxes
from recommender.models import Garment
from recommender.services.corrections import garment_box_validate, garment_correction_create
from recommender.vision.taxonomy import GARMENT_CLASSES

CORRECTION_PERMISSION = "recommender.add_garmentcorrection"


class GarmentCorrectionForm(forms.Form):
    """Adjust a detected garment (choose it) or add one the detector missed (leave it empty)."""

    garment = forms.ModelChoiceField(
        queryset=Garment.objects.none(), required=False, empty_label="— add a garment the detector missed —"
    )
    label = forms.ChoiceField(choices=[(c, c) for c in GARMENT_CLASSES])
    x1 = forms.IntegerField(min_value=0, label="x1 (left)")
    y1 = forms.IntegerField(min_value=0, label="y1 (top)")
    x2 = forms.IntegerField(min_value=1, label="x2 (right)")
    y2 = forms.IntegerField(min_value=1, label="y2 (bottom)")

    def __init__(self, *args, image: ProductImage, **kwargs):
        super().__init__(*args, **kwargs)
        self.image = image
        self.fields["garment"].queryset = image.garments.order_by("-confidence", "id")
        self.fields["garment"].label_from_instance = lambda g: (
            f"#{g.pk} {g.label} ({g.confidence:.2f}) at {g.box_x1},{g.box_y1},{g.box_x2},{g.box_y2}"
        )

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        garment_box_validate(
            box=(data["x1"], data["y1"], data["x2"], data["y2"]),
            label=data["label"],
            width=self.image.width,
            height=self.image.height,
        )
        return data


@admin.register(ProductImage)
class ProductImageAdmin(admin.ModelAdmin):
    list_display = ["preview", "product", "is_primary", "status", "short_error", "garment_count", "encoder_version"]
    list_filter = ["status", "is_primary", "encoder_version"]
    search_fields = ["product__sku", "product__title", "checksum"]
    list_select_related = ["product"]
    readonly_fields = [
        "garments_drawn",
        "product",
        "file",
        "checksum",
        "width",
        "height",
        "status",
        "error",
        "encoder_version",
        "attempts",
        "created_at",
        "processed_at",
    ]
    fields = ["garments_drawn", "product", "file", "is_primary", *readonly_fields[3:]]
    actions = ["reprocess"]
    change_form_template = "admin/catalog/productimage/change_form.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Images are added on their product's page, where the upload goes through ingestion.
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_garments=Count("garments")).prefetch_related("garments")

    @admin.display(description="garments")
    def preview(self, image: ProductImage):
        return image_with_boxes(image, garment_boxes(image), width=120)

    @admin.display(description="garments", ordering="_garments")
    def garment_count(self, image: ProductImage):
        return getattr(image, "_garments", None)

    @admin.display(description="error")
    def short_error(self, image: ProductImage):
        return (image.error[:80] + "…") if len(image.error) > 80 else image.error

    @admin.display(description="detected garments")
    def garments_drawn(self, image: ProductImage):
        boxes = garment_boxes(image)
        corrected = [
            Box(
                box=c.box,
                label=c.label,
                caption=f"corrected: {c.label}",
                dashed=True,
                colour=LABEL_COLOURS.get(c.label, "#808080"),
            )
            for c in image.corrections.filter(garment__isnull=True)[:20]
        ]
        return image_with_boxes(image, boxes + corrected, width=520, element_id="garment-overlay")

    @admin.action(description="Reprocess selected images (detect and encode again)", permissions=["change"])
    def reprocess(self, request: HttpRequest, queryset) -> None:
        count = 0
        for image in queryset:
            product_image_reprocess(image=image)
            count += 1
        self.message_user(request, f"{count} image(s) queued for processing.", messages.SUCCESS)

    # --- crop correction -----------------------------------------------------------------

    def get_urls(self):
        urls = [
            path(
                "<path:object_id>/correct/",
                self.admin_site.admin_view(self.correct_view),
                name="catalog_productimage_correct",
            )
        ]
        return urls + super().get_urls()

    def can_correct(self, request: HttpRequest) -> bool:
        return request.user.has_perm(CORRECTION_PERMISSION)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = extra_context or {}
        image = self.get_object(request, object_id)
        if image is not None and self.can_correct(request):
            extra_context.setdefault("correction_form", GarmentCorrectionForm(image=image))
            extra_context["correction_url"] = reverse("admin:catalog_productimage_correct", args=[image.pk])
            extra_context["garments_json"] = {
                str(g.pk): {"label": g.label, "box": [g.box_x1, g.box_y1, g.box_x2, g.box_y2]}
                for g in image.garments.all()
            }
        if image is not None:
            extra_context["corrections"] = image.corrections.select_related("corrected_by", "garment")[:20]
        return super().change_view(request, object_id, form_url, extra_context)

    def correct_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.can_correct(request) or not self.has_view_permission(request):
            raise PermissionDenied
        # get_object answers None for an id that is not a valid primary key ("abc", "1.5"), as the
        # change page does, where a plain pk lookup would raise on the conversion.
        image = self.get_object(request, unquote(object_id))
        if image is None:
            raise Http404(f"No image with id “{object_id}”.")
        change_url = reverse("admin:catalog_productimage_change", args=[image.pk])
        if request.method != "POST":
            return HttpResponseRedirect(change_url)
        form = GarmentCorrectionForm(request.POST, image=image)
        if form.is_valid():
            data = form.cleaned_data
            try:
                correction = garment_correction_create(
                    image=image,
                    box=(data["x1"], data["y1"], data["x2"], data["y2"]),
                    label=data["label"],
                    garment=data["garment"],
                    user=request.user,
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                self.message_user(
                    request,
                    format_html(
                        "Garment #{} is now a {} at {}; it was re-encoded and kept as a training label.",
                        correction.garment_id,
                        correction.label,
                        ", ".join(str(v) for v in correction.box),
                    ),
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(change_url)
        # Show the change page again with the form and its messages, as a GET would.
        request.method = "GET"
        return self.change_view(request, str(image.pk), extra_context={"correction_form": form})
