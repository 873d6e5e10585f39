/* fashionrec demo: search by photo and similar items, on the public REST API.
 *
 * Plain JavaScript, no build step and nothing loaded from elsewhere. One script serves both
 * pages: on "/" a query is a photo (kept in memory so that a filter change or a click on
 * another garment re-sends it), on "/products/<id>/" it is the product itself.
 */
(() => {
  "use strict";

  const $ = (selector, root = document) => root.querySelector(selector);
  const config = JSON.parse($("#fashionrec-config").textContent);

  // Photos above this size are scaled down in the browser before upload: the detector works
  // at 320 px and the encoder on small crops, so a 12-megapixel phone photo only costs upload
  // and decode time. Smaller files go as they are (no re-encoding of what the user gave us).
  const DOWNSCALE_ABOVE_BYTES = 1.5 * 1024 * 1024;
  const DOWNSCALE_LONG_SIDE = 1600;
  const FILTER_DEBOUNCE_MS = 250;

  const el = {
    status: $("#status"),
    error: $("#error"),
    filters: $("#filters"),
    category: $("#filter-category"),
    season: $("#filter-season"),
    results: $("#results"),
    resultsSection: $("#results-section"),
    resultsMeta: $("#results-meta"),
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

  const state = {
    upload: null, // the Blob sent for the current photo (home page)
    uploadName: "photo.jpg",
    photoUrl: null,
    garments: config.garments || [],
    image: config.image || null,
    garment: null, // index of the garment the grid is for; null lets the API pick the most confident
    generation: 0, // bumps per request; a late answer to an older request is dropped
    lastQuery: null, // filters and garment of the last request sent
    controller: null,
    startedAt: null, // performance.now() when the user chose the photo
  };

  // Every upload → results-on-screen time, in ms, for the browser test and curious people;
  // the details split it into phases (ms since the photo was chosen) and the server's own total.
  window.fashionrecTimings = [];
  window.fashionrecTimingDetails = [];

  // ---------------------------------------------------------------- small helpers

  function csrfToken() {
    const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  function setStatus(text) {
    el.status.textContent = text;
  }

  function showError(message, extra) {
    el.error.replaceChildren();
    const p = document.createElement("p");
    p.textContent = message;
    el.error.append(p);
    if (extra) el.error.append(extra);
    el.error.hidden = false;
  }

  function clearError() {
    el.error.hidden = true;
    el.error.replaceChildren();
  }

  function formatPrice(amount, currency) {
    const value = Number(amount);
    if (!Number.isFinite(value)) return `${amount} ${currency || ""}`.trim();
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: currency || "EUR" }).format(value);
    } catch {
      return `${value.toFixed(2)} ${currency}`;
    }
  }

  function formatBytes(bytes) {
    return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} kB`;
  }

  function percent(value) {
    return `${Math.round(value * 100)}%`;
  }

  function listFrom(body) {
    // List endpoints may be paginated ({results: [...]}) or plain arrays.
    return Array.isArray(body) ? body : (body && body.results) || [];
  }

  async function readError(response) {
    let body = null;
    try {
      body = await response.json();
    } catch {
      /* not JSON: fall through to a generic message */
    }
    const error = body && body.error;
    if (error && error.message) return { code: error.code, message: error.message, status: response.status };
    if (response.status === 413) return { code: "too_large", message: "This file is too large to upload.", status: 413 };
    return { code: "http_" + response.status, message: `The server answered ${response.status}. Try again in a moment.`, status: response.status };
  }

  // "Results on screen" includes the photos of the first two rows of cards.
  const FIRST_CARDS = 8;

  async function firstImagesShown() {
    const images = [...el.results.querySelectorAll("img")].slice(0, FIRST_CARDS);
    await Promise.all(images.map((img) => img.decode().catch(() => undefined)));
    await nextFrame();
  }

  function nextFrame() {
    return new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
  }

  // ---------------------------------------------------------------- filters

  function filterParams() {
    const data = new FormData(el.filters);
    const params = new URLSearchParams();
    for (const name of ["category", "price_min", "price_max", "sizes", "season"]) {
      const value = String(data.get(name) || "").trim();
      if (value) params.set(name, value);
    }
    if (data.get("in_stock")) params.set("in_stock", "true");
    return params;
  }

  function filtersActive() {
    return [...filterParams().keys()].length > 0;
  }

  async function loadOptions(select, url, labelOf) {
    try {
      const response = await fetch(`${url}?limit=100`, { headers: { Accept: "application/json" } });
      if (!response.ok) return;
      for (const item of listFrom(await response.json())) {
        const option = document.createElement("option");
        option.value = item.id;
        option.textContent = labelOf(item);
        select.append(option);
      }
    } catch {
      /* the filter stays at "All": searching still works */
    }
  }

  function categoryLabel(category) {
    // Indent sub-categories under their parents ("women/tops/t-shirts" is two levels down).
    const path = category.path || "";
    const depth = path ? path.split("/").length - 1 : 0;
    return `${"\u2003".repeat(depth)}${category.name || path}`;
  }

  let filterTimer = null;
  function onFilterChange(event) {
    clearTimeout(filterTimer);
    $("#filters-reset").hidden = !filtersActive();
    const typing = event && event.target && event.target.type === "number";
    filterTimer = setTimeout(requery, typing ? FILTER_DEBOUNCE_MS : 0);
  }

  function requery() {
    // A number field fires "input" while typing and "change" when it loses focus: only a real
    // change of the filters (or of the garment) sends a new request.
    if (queryKey() === state.lastQuery) return;
    if (config.mode === "product" || state.upload) runQuery();
  }

  function queryKey() {
    return `${filterParams()}|${state.garment}`;
  }

  // ---------------------------------------------------------------- the photo and its boxes

  function renderBoxes() {
    el.photoBoxes.replaceChildren();
    const image = state.image;
    if (!image || !image.width || !image.height) return;
    // A product photo is the product: a whole-photo "box" around it would say nothing.
    const shown = config.mode === "image" ? state.garments : state.garments.filter((garment) => !garment.is_whole_image);
    shown.forEach((garment) => {
      const [x1, y1, x2, y2] = garment.box;
      // On a product page the garments are only shown: similar items are for the product.
      const interactive = config.mode === "image";
      const button = document.createElement(interactive ? "button" : "span");
      if (interactive) button.type = "button";
      button.className = "box" + (garment.is_whole_image ? " box--whole" : "") + (interactive ? "" : " box--static");
      // Percentages of the analysed image size: the frame is exactly as large as the
      // displayed photo, so the boxes follow it at any screen width.
      button.style.left = `${(100 * x1) / image.width}%`;
      button.style.top = `${(100 * y1) / image.height}%`;
      button.style.width = `${(100 * (x2 - x1)) / image.width}%`;
      button.style.height = `${(100 * (y2 - y1)) / image.height}%`;
      button.dataset.index = garment.index;
      const selected = garment.index === state.garment;
      const what = garment.is_whole_image ? "whole photo" : garment.label;
      if (interactive) {
        button.setAttribute("aria-pressed", String(selected));
        button.setAttribute(
          "aria-label",
          `${what}, ${percent(garment.confidence)} confident${selected ? ", showing similar items" : ", show similar items"}`,
        );
        button.addEventListener("click", () => selectGarment(garment.index));
      } else {
        button.setAttribute("role", "img");
        button.setAttribute("aria-label", `${what} detected, ${percent(garment.confidence)} confident`);
      }
      const tag = document.createElement("span");
      tag.className = "box__label";
      tag.textContent = garment.is_whole_image ? "whole photo" : `${garment.label} ${percent(garment.confidence)}`;
      tag.setAttribute("aria-hidden", "true");
      button.append(tag);
      el.photoBoxes.append(button);
    });
    if (el.photoCaption) {
      const real = state.garments.filter((garment) => !garment.is_whole_image);
      const hint = config.mode === "image" ? " Select a box to search for it." : "";
      el.photoCaption.textContent = real.length
        ? `Found ${real.length} garment${real.length === 1 ? "" : "s"}.${hint}`
        : state.garments.length && config.mode === "image"
          ? "No single garment stood out, so the whole photo is used."
          : "";
    }
  }

  function selectGarment(index) {
    if (index === state.garment) return;
    state.garment = index;
    renderBoxes();
    const focused = el.photoBoxes.querySelector(`[data-index="${index}"]`);
    if (focused) focused.focus();
    runQuery();
  }

  async function prepareUpload(file) {
    // Large photos are scaled down here (with their EXIF orientation applied); anything the
    // browser cannot decode is sent unchanged so that the server gives the precise reason.
    if (file.size <= DOWNSCALE_ABOVE_BYTES || !("createImageBitmap" in window)) return file;
    let bitmap;
    try {
      bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    } catch {
      return file;
    }
    const scale = DOWNSCALE_LONG_SIDE / Math.max(bitmap.width, bitmap.height);
    if (scale >= 1) {
      bitmap.close();
      return file;
    }
    const canvas = document.createElement("canvas");
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
    return blob || file;
  }

  async function handleFile(file) {
    if (!file) return;
    state.startedAt = performance.now();
    clearError();
    state.garment = null;
    state.garments = [];
    state.image = null;
    setStatus(`Looking at ${file.name || "your photo"}…`);
    const upload = await prepareUpload(file);
    state.upload = upload;
    state.uploadName = upload === file ? file.name || "photo" : "photo.jpg";
    if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
    state.photoUrl = URL.createObjectURL(upload);
    el.photoBoxes.replaceChildren();
    el.photo.src = state.photoUrl;
    el.photo.alt = `Your photo${file.name ? ` (${file.name})` : ""}`;
    await runQuery({ fresh: true });
  }

  function showPhoto(visible) {
    el.photoFigure.hidden = !visible;
    el.dropzoneEmpty.hidden = visible;
    el.dropzone.dataset.state = visible ? "photo" : "empty";
    el.photoActions.hidden = !visible;
  }

  // ---------------------------------------------------------------- the query

  function buildRequest() {
    const params = filterParams();
    params.set("k", String(config.k));
    if (config.mode === "product") {
      return {
        url: `${config.urls.similar.replace("{id}", config.productId)}?${params}`,
        init: { headers: { Accept: "application/json" } },
      };
    }
    if (state.garment !== null) params.set("garment", String(state.garment));
    const form = new FormData();
    form.append("image", state.upload, state.uploadName);
    for (const [name, value] of params) form.append(name, value);
    return {
      url: config.urls.recommend,
      init: { method: "POST", body: form, headers: { Accept: "application/json", "X-CSRFToken": csrfToken() } },
    };
  }

  async function runQuery({ fresh = false } = {}) {
    if (state.controller) state.controller.abort();
    const controller = new AbortController();
    state.controller = controller;
    const generation = ++state.generation;
    el.resultsSection.setAttribute("aria-busy", "true");
    if (!fresh) setStatus("Updating results…");
    const { url, init } = buildRequest();
    state.lastQuery = queryKey();
    const marks = { sent: performance.now() };
    let response;
    try {
      response = await fetch(url, { ...init, signal: controller.signal, credentials: "same-origin" });
    } catch (error) {
      if (error.name === "AbortError") return;
      finish(generation);
      setStatus("");
      showError("Could not reach the server. Check your connection and try again.");
      return;
    }
    if (generation !== state.generation) return;
    if (!response.ok) {
      const error = await readError(response);
      if (generation !== state.generation) return;
      finish(generation);
      setStatus("");
      if (fresh) {
        // A refused photo leaves nothing to show; keep the drop zone ready for the next one.
        state.upload = null;
        showPhoto(false);
        clearResults();
      }
      showError(error.message, error.code === "no_active_encoder" ? importHint() : uploadHint(error.code));
      el.error.dataset.code = error.code || "";
      return;
    }
    const body = await response.json();
    if (generation !== state.generation) return;
    marks.answered = performance.now();
    clearError();
    if (body.image) state.image = body.image;
    if (Array.isArray(body.garments) && body.garments.length) state.garments = body.garments;
    if (typeof body.garment === "number") state.garment = body.garment;
    state.lastQuery = queryKey(); // the garment the API chose is now part of it
    if (config.mode === "image") showPhoto(true);
    renderBoxes();
    renderResults(body);
    marks.rendered = performance.now();
    await firstImagesShown();
    if (generation !== state.generation) return;
    marks.server = (body.timings_ms || {}).total;
    finish(generation, fresh, marks);
  }

  function finish(generation, fresh = false, marks = null) {
    el.resultsSection.setAttribute("aria-busy", "false");
    el.resultsSection.dataset.generation = String(generation);
    if (fresh && state.startedAt !== null) {
      const elapsed = performance.now() - state.startedAt;
      window.fashionrecTimings.push(elapsed);
      if (marks) {
        const since = (mark) => Math.round(mark - state.startedAt);
        window.fashionrecTimingDetails.push({
          total: Math.round(elapsed),
          sent: since(marks.sent),
          answered: since(marks.answered),
          rendered: since(marks.rendered),
          server: marks.server,
        });
      }
      el.resultsSection.dataset.uploadMs = elapsed.toFixed(1);
      state.startedAt = null;
    }
  }

  function clearResults() {
    el.results.replaceChildren();
    el.resultsMeta.textContent = "";
    el.resultsEmpty.hidden = true;
    if (el.placeholder) el.placeholder.hidden = false;
  }

  // ---------------------------------------------------------------- the grid

  function renderResults(body) {
    const results = body.results || [];
    if (el.placeholder) el.placeholder.hidden = true;
    el.results.replaceChildren(...results.map(renderCard));
    const chosen = state.garments.find((garment) => garment.index === state.garment);
    const about = chosen && !chosen.is_whole_image ? ` for the ${chosen.label}` : "";
    const timings = body.timings_ms || {};
    el.resultsMeta.textContent = results.length
      ? `${results.length} item${results.length === 1 ? "" : "s"}${about}` +
        (timings.total ? ` · answered in ${Math.round(timings.total)} ms` : "")
      : "";
    el.resultsEmpty.hidden = results.length > 0;
    if (!results.length) renderEmpty();
    setStatus(results.length ? `Showing ${results.length} similar item${results.length === 1 ? "" : "s"}${about}.` : "No similar items found.");
  }

  // What to try next, under the API's own message.
  const UPLOAD_HINTS = {
    too_large: "Try a smaller photo: a phone photo or a screenshot works well.",
    too_many_pixels: "Try a smaller photo: a phone photo or a screenshot works well.",
    decoded_too_large: "Try a smaller photo: a phone photo or a screenshot works well.",
    unsupported_mode: "Choose an ordinary 8-bit JPEG, PNG or WebP photo.",
    not_an_image: "Choose a JPEG, PNG or WebP photo.",
    unsupported_format: "Choose a JPEG, PNG or WebP photo.",
    truncated: "The file seems incomplete; try saving or exporting the photo again.",
    empty: "The file is empty; choose another photo.",
  };

  function uploadHint(code) {
    if (!UPLOAD_HINTS[code]) return null;
    const p = document.createElement("p");
    p.className = "notice__hint";
    p.textContent = UPLOAD_HINTS[code];
    return p;
  }

  function importHint() {
    // The catalog has never been indexed: say how to fill it (from the repository root).
    const hint = document.createElement("div");
    const p = document.createElement("p");
    p.textContent = "Import the clothing photos from the repository root with:";
    const pre = document.createElement("pre");
    const code = document.createElement("code");
    code.textContent = config.importCommand;
    pre.append(code);
    hint.append(p, pre);
    return hint;
  }

  function renderEmpty() {
    el.resultsEmpty.replaceChildren();
    el.resultsEmpty.classList.toggle("notice--warning", !filtersActive());
    const p = document.createElement("p");
    if (filtersActive()) {
      p.textContent = "Nothing matches these filters. ";
      const reset = document.createElement("button");
      reset.type = "button";
      reset.className = "link-button";
      reset.textContent = "Clear the filters";
      reset.addEventListener("click", () => el.filters.reset());
      p.append(reset);
      el.resultsEmpty.append(p);
    } else {
      const strong = document.createElement("strong");
      strong.textContent = "The catalog is empty.";
      p.append(strong);
      el.resultsEmpty.append(p, importHint());
    }
  }

  function productUrl(id) {
    return config.urls.product.replace("{id}", id);
  }

  const BREAKDOWN_LABELS = {
    similarity: "Looks similar",
    seasonal: "Seasonal pick",
    preference: "Your preferences",
    taste: "Your taste",
    dislike: "Near your dislikes",
    inventory: "Stock",
  };

  let cardCount = 0;
  function renderCard(result) {
    const product = result.product;
    const card = el.cardTemplate.content.firstElementChild.cloneNode(true);
    const url = productUrl(product.id);
    card.dataset.productId = product.id;
    card.dataset.category = product.category || "";
    card.dataset.price = product.price;
    const stock = product.stock_by_size || {};
    const sizes = Object.keys(stock).filter((size) => stock[size] > 0);
    card.dataset.inStock = String(sizes.length > 0);
    card.dataset.sizes = sizes.join(",");
    card.dataset.seasons = (product.seasons || []).map((season) => season.id).join(",");

    const media = $(".card__media", card);
    media.href = url;
    const img = $("img", card);
    if (product.primary_image_url) {
      img.src = product.primary_image_url;
      img.alt = product.title;
    } else {
      media.classList.add("card__media--missing");
      img.remove();
    }
    $(".card__brand", card).textContent = product.brand || "";
    const title = $(".card__title a", card);
    title.href = url;
    title.textContent = product.title;
    $(".card__category", card).textContent = product.category || "";
    $(".card__price", card).textContent = formatPrice(product.price, product.currency);

    const sizesEl = $(".card__sizes", card);
    if (sizes.length) {
      const label = document.createElement("span");
      label.className = "visually-hidden";
      label.textContent = "Sizes in stock: ";
      sizesEl.append(label);
      for (const size of sizes) {
        const chip = document.createElement("span");
        chip.className = "size";
        chip.textContent = size;
        sizesEl.append(chip);
      }
    } else {
      sizesEl.textContent = "Out of stock";
      sizesEl.classList.add("card__sizes--out");
    }

    const seasonsEl = $(".card__seasons", card);
    for (const season of product.seasons || []) {
      const badge = document.createElement("span");
      badge.className = `badge badge--season badge--${String(season.name).toLowerCase().replace(/[^a-z]+/g, "-")}`;
      badge.textContent = season.name;
      seasonsEl.append(badge);
    }
    if (!seasonsEl.childElementCount) seasonsEl.remove();

    // The score breakdown: on hover and keyboard focus by CSS, on tap by the toggle.
    const panelId = `score-${++cardCount}`;
    const toggle = $(".score__toggle", card);
    const panel = $(".score__panel", card);
    panel.id = panelId;
    toggle.setAttribute("aria-controls", panelId);
    toggle.textContent = `Match ${percent(Math.max(0, Math.min(1, result.similarity ?? result.score ?? 0)))}`;
    toggle.setAttribute("aria-label", `Match ${percent(result.similarity ?? 0)}: show why`);
    panel.setAttribute("aria-label", `Why ${product.title} was recommended`);
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
    });
    const list = $(".score__list", card);
    const breakdown = result.score_breakdown || {};
    for (const [key, value] of Object.entries(breakdown)) {
      const dt = document.createElement("dt");
      dt.textContent = BREAKDOWN_LABELS[key] || key;
      const dd = document.createElement("dd");
      dd.textContent = (value >= 0 ? "+" : "−") + Math.abs(value).toFixed(2);
      if (value > 0 && key !== "similarity") dd.className = "up";
      if (value < 0) dd.className = "down";
      list.append(dt, dd);
    }
    const dt = document.createElement("dt");
    dt.className = "total";
    dt.textContent = "Score";
    const dd = document.createElement("dd");
    dd.className = "total";
    dd.textContent = Number(result.score ?? 0).toFixed(2);
    list.append(dt, dd);

    if (config.signedIn) {
      const actions = $(".card__actions", card);
      actions.hidden = false;
      actions.dataset.productId = product.id;
      wireInteractions(actions, product.title);
    }
    return card;
  }

  // ---------------------------------------------------------------- likes and dislikes

  function wireInteractions(actions, title) {
    const productId = Number(actions.dataset.productId);
    for (const [selector, kind] of [
      [".js-like", "like"],
      [".js-dislike", "dislike"],
    ]) {
      const button = $(selector, actions);
      button.addEventListener("click", () => interact(button, productId, kind, title));
    }
  }

  async function interact(button, productId, kind, title) {
    button.disabled = true;
    try {
      const response = await fetch(config.urls.interactions, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ product_id: productId, kind }),
      });
      if (!response.ok) {
        const error = await readError(response);
        showError(error.message);
        return;
      }
      button.setAttribute("aria-pressed", "true");
      const other = button.parentElement.querySelector(kind === "like" ? ".js-dislike" : ".js-like");
      if (other) other.setAttribute("aria-pressed", "false");
      const card = button.closest(".card");
      if (card) card.classList.toggle("card--disliked", kind === "dislike");
      setStatus(
        kind === "like"
          ? `Liked ${title}. Your next results will lean towards it.`
          : `Noted: ${title} is not for you. Similar items will rank lower next time.`,
      );
    } catch {
      showError("Could not save that. Check your connection and try again.");
    } finally {
      button.disabled = false;
    }
  }

  // ---------------------------------------------------------------- wiring

  function wireUpload() {
    for (const button of document.querySelectorAll("[data-pick]")) {
      button.addEventListener("click", () => document.getElementById(button.dataset.pick).click());
    }
    for (const input of [$("#photo-input"), $("#camera-input")]) {
      if (!input) continue;
      input.addEventListener("change", () => {
        const file = input.files && input.files[0];
        input.value = ""; // choosing the same file again must fire "change" again
        handleFile(file);
      });
    }
    // Dropping anywhere on the page works; the drop zone lights up while dragging.
    let depth = 0;
    const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
    document.addEventListener("dragenter", (event) => {
      if (!hasFiles(event)) return;
      depth += 1;
      el.dropzone.classList.add("dropzone--active");
    });
    document.addEventListener("dragleave", () => {
      depth = Math.max(0, depth - 1);
      if (!depth) el.dropzone.classList.remove("dropzone--active");
    });
    document.addEventListener("dragover", (event) => {
      if (hasFiles(event)) event.preventDefault();
    });
    document.addEventListener("drop", (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      el.dropzone.classList.remove("dropzone--active");
      handleFile(event.dataTransfer.files[0]);
    });
    document.addEventListener("paste", (event) => {
      const file = [...(event.clipboardData ? event.clipboardData.files : [])].find((f) => f.type.startsWith("image/"));
      if (file) handleFile(file);
    });
  }

  function init() {
    el.filters.addEventListener("change", onFilterChange);
    el.filters.addEventListener("input", (event) => {
      if (event.target.type === "number") onFilterChange(event);
    });
    el.filters.addEventListener("reset", () => {
      // The button hides itself: keep keyboard users' focus in the filters.
      if (document.activeElement === $("#filters-reset")) el.category.focus();
      $("#filters-reset").hidden = true;
      setTimeout(requery, 0);
    });
    el.filters.addEventListener("submit", (event) => event.preventDefault());
    loadOptions(el.category, config.urls.categories, categoryLabel);
    loadOptions(el.season, config.urls.seasons, (season) => season.name);

    for (const price of document.querySelectorAll("[data-price]:not(.card)")) {
      price.textContent = formatPrice(price.dataset.price, price.dataset.currency);
    }
    const productActions = $(".product__actions");
    if (productActions) wireInteractions(productActions, $("#product-title").textContent);

    if (config.mode === "product") {
      renderBoxes();
      runQuery();
    } else {
      wireUpload();
    }
  }

  init();
})();
