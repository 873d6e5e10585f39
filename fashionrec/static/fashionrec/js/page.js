/* The page the demo runs on: the configuration the server rendered into it, and its elements.
 *
 * Both pages share these ids: on "/" a query is a photo, on "/products/<id>/" the product itself
 * (config.mode is "image" or "product").
 */

export const $ = (selector, root = document) => root.querySelector(selector);

export const config = JSON.parse($("#fashionrec-config").textContent);

export const el = {
  status: $("#status"),
  error: $("#error"),
  filters: $("#filters"),
  filtersReset: $("#filters-reset"),
  category: $("#filter-category"),
  season: $("#filter-season"),
  results: $("#results"),
  resultsSection: $("#results-section"),
  resultsMeta: $("#results-meta"),
  resultsHeading: $("#results-heading"),
  looks: $("#looks"),
  looksRows: $("#looks-rows"),
  completeLook: $("#complete-look"),
  completeLookRows: $("#complete-look-rows"),
  completeLookNote: $("#complete-look-note"),
  resultsEmpty: $("#results-empty"),
  placeholder: $("#results-placeholder"),
  cardTemplate: $("#card-template"),
  photo: $("#photo"),
  photoFigure: $("#photo-figure"),
  photoFrame: $("#photo-frame"),
  photoBoxes: $("#photo-boxes"),
  photoCaption: $("#photo-caption"),
  photoActions: $("#photo-actions"),
  dropzone: $("#dropzone"),
  dropzoneEmpty: $("#dropzone-empty"),
};
