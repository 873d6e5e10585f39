/* fashionrec demo: search by photo and similar items, on the public REST API.
 *
 * Plain JavaScript modules, served as they are: no build step and nothing loaded from
 * elsewhere. One entry serves both pages: on "/" a query is a photo (kept in memory so that a
 * filter change or a click on another garment re-sends it), on "/products/<id>/" it is the
 * product itself.
 *
 *   page.js          the server's configuration and the page's elements
 *   state.js         what the page shows now
 *   api-client.js    requests to the REST API and its error format
 *   filters.js       the filter form
 *   dropzone.js      file picker, camera, drop and paste; downscaling large photos
 *   photo.js         the photo and its garment boxes
 *   query.js         sending a query, dropping stale answers
 *   results.js       the grid; card.js one card; interactions.js like / not for me
 *   looks.js         a row per other garment of the photo (shop the whole look)
 *   complete-look.js a row per kind that completes the look (the outfit model)
 *   messages.js      status line, errors and hints; format.js prices and percentages
 *   test-hooks.js    timings for the browser tests (only with ?testhooks=1)
 */

import { dropzoneWire } from "./dropzone.js";
import { filtersWire } from "./filters.js";
import { formatPrice } from "./format.js";
import { interactionsWire } from "./interactions.js";
import { $, config } from "./page.js";
import { boxesRender } from "./photo.js";
import { queryRun, requery } from "./query.js";

filtersWire(requery);

for (const price of document.querySelectorAll("[data-price]:not(.card)")) {
  price.textContent = formatPrice(price.dataset.price, price.dataset.currency);
}
const productActions = $(".product__actions");
if (productActions) interactionsWire(productActions, $("#product-title").textContent);

if (config.mode === "product") {
  boxesRender(); // the product's garments are shown, not chosen: no onSelect
  queryRun();
} else {
  dropzoneWire();
}
