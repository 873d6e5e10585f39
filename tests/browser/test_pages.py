"""The demo pages as the server renders them (the browser tests drive the same pages in chromium)."""

import json
import posixpath
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import resolve

from recommender.models import EncoderVersion
from storefront.views import IMPORT_COMMAND
from tests.factories import category_create, garment_create, image_create, product_create

pytestmark = pytest.mark.django_db

STATIC_TAG = re.compile(r"{% static '([^']+)' %}")
MODULE_IMPORT = re.compile(r'^(?:import|export)\b[^;]*?\bfrom\s*"(\.{1,2}/[^"]+)";', re.MULTILINE | re.DOTALL)


def page_config(response) -> dict:
    html = response.content.decode()
    start = html.index('<script id="fashionrec-config" type="application/json">') + len(
        '<script id="fashionrec-config" type="application/json">'
    )
    return json.loads(html[start : html.index("</script>", start)])


def test_home_tells_how_to_fill_an_empty_catalog(client):
    # given no garments of an active encoder version

    # when
    response = client.get("/")

    # then
    assert response.status_code == 200
    assert "The catalog is empty." in response.content.decode()
    assert IMPORT_COMMAND in response.content.decode()
    assert page_config(response)["catalogEmpty"] is True
    assert "csrftoken" in response.cookies  # the page's POSTs read the token from this cookie


def test_home_offers_upload_controls_and_the_sizes_in_stock(client):
    # given a searchable catalog with sizes M (in stock), XS (in stock) and XXL (sold out)
    EncoderVersion.objects.create(name="test-v1", is_active=True)
    garment_create(product_create(sizes={"M": 2, "XS": 1, "XXL": 0}))

    # when
    response = client.get("/")
    html = response.content.decode()

    # then
    assert "The catalog is empty." not in html
    assert 'accept="image/*" capture="environment"' in html
    assert 'data-pick="photo-input"' in html and 'data-pick="camera-input"' in html
    sizes = html[html.index('id="filter-size"') : html.index("</select>", html.index('id="filter-size"'))]
    assert sizes.index(">XS<") < sizes.index(">M<")
    assert ">XXL<" not in sizes
    config = page_config(response)
    assert config["catalogEmpty"] is False
    assert config["urls"]["recommend"] == "/api/v1/recommendations/"
    assert config["urls"]["product"] == "/products/{id}/"


def test_product_page_shows_the_product_and_its_garment_boxes(client):
    # given a product whose primary image has one garment of the active encoder version
    EncoderVersion.objects.create(name="test-v1", is_active=True)
    product = product_create(title="Linen shirt", category=category_create("men/shirts"), sizes={"L": 4, "S": 0})
    image = image_create(product)
    image.width, image.height = 400, 533
    image.save()
    garment_create(product, image=image, version="test-v1")

    # when
    response = client.get(f"/products/{product.pk}/")
    html = response.content.decode()

    # then
    assert response.status_code == 200
    assert "Linen shirt" in html
    assert 'class="size">L<' in html and 'class="size">S<' not in html
    config = page_config(response)
    assert config["mode"] == "product" and config["productId"] == product.pk
    assert config["image"] == {"width": 400, "height": 533}
    assert config["garments"] == [
        {
            "index": 0,
            "box": [0, 0, 100, 100],
            "label": "top",
            "confidence": 0.9,
            "is_whole_image": False,
            "is_main": False,
        }
    ]


def test_product_page_asks_the_complete_the_look_endpoint_for_its_look(client, settings, tmp_path):
    # given a top with trousers and shoes to go with it, and an outfit model for the active encoder
    from recommender.models import Garment
    from tests.factories import outfit_model_create

    EncoderVersion.objects.create(name="test-v1", is_active=True)
    outfit_model_create(tmp_path / "outfits", encoder_version="test-v1")
    settings.FASHIONREC_OUTFIT_MODEL = str(tmp_path / "outfits")
    products = {}
    for seed, kind in enumerate(("top", "trousers", "shoes", "top")):
        product = product_create(category=category_create(f"women/{kind}"))
        Garment.objects.filter(pk=garment_create(product, seed=seed).pk).update(label=kind)
        products.setdefault(kind, []).append(product)
    top = products["top"][0]

    # when the product page is opened
    response = client.get(f"/products/{top.pk}/")
    html = response.content.decode()

    # then it has the (hidden until filled) section and the endpoints' addresses in its config
    assert 'id="complete-look"' in html and 'id="complete-look-note"' in html
    config = page_config(response)
    assert resolve(config["urls"]["completeLook"]).url_name == "complete-the-look"
    # ... and what its script asks for is the product's look: the kinds worn with a top, with
    # compatibilities, never another top or the product itself
    look_url = config["urls"]["productLook"].replace("{id}", str(top.pk))
    assert resolve(look_url).url_name == "product-complete-the-look"
    body = client.get(look_url, {"k": config["lookK"], "in_stock": "true"}).json()
    assert body["query"]["garment_kind"] == "top"
    assert [group["kind"] for group in body["looks"]] == ["trousers", "shoes"]
    for group in body["looks"]:
        assert [r["product"]["id"] for r in group["results"]] == [p.pk for p in products[group["kind"]]]
        assert all(0 <= r["compatibility"] <= 1 for r in group["results"])


def test_unknown_or_inactive_product_page_is_404(client):
    # given
    hidden = product_create(is_active=False)

    # when / then
    assert client.get("/products/999999/").status_code == 404
    assert client.get(f"/products/{hidden.pk}/").status_code == 404


def test_every_asset_is_served_by_the_app():
    # given the templates' static references, and every module the script modules import
    templates = Path(__file__).resolve().parents[2] / "fashionrec" / "templates"
    assets = {name for path in templates.glob("**/*.html") for name in STATIC_TAG.findall(path.read_text())}
    assert {"fashionrec/app.css", "fashionrec/js/main.js", "fashionrec/favicon.svg"} <= assets
    pending = [asset for asset in assets if asset.endswith(".js")]
    while pending:
        module = pending.pop()
        found = finders.find(module)
        assert found, f"{module} is not a static file"
        source = Path(found).read_text()
        for relative in MODULE_IMPORT.findall(source):
            imported = posixpath.normpath(posixpath.join(posixpath.dirname(module), relative))
            if imported not in assets:
                assets.add(imported)
                pending.append(imported)

    # when / then: each is found by the staticfiles finders (no CDN anywhere)
    assert len(assets) > 5
    for asset in sorted(assets):
        assert finders.find(asset), asset


def test_sign_in_page_renders(client):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert 'autocomplete="current-password"' in response.content.decode()


def test_no_asset_is_loaded_from_another_origin():
    # given every template and static file of the demo
    root = Path(__file__).resolve().parents[2] / "fashionrec"
    files = [*root.glob("templates/**/*.html"), *root.glob("static/**/*.*")]

    # when / then: no absolute URL that a browser would fetch (offline use, no CDN)
    assert files
    for path in files:
        text = path.read_text()
        for marker in ('src="http', 'href="http', "url(http", 'src="//', 'href="//', "@import"):
            assert marker not in text, f"{path}: {marker}"
