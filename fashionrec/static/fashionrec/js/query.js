/* One query at a time: the photo (or the product) with the filters and the chosen garment.
 *
 * A newer query aborts the one in flight, and a late answer to an older one is dropped
 * (state.generation), so the grid always shows the last thing the shopper asked for.
 */

import { imageRecommendRequest, readError, similarRequest } from "./api-client.js";
import { completeLookClear, completeLookRun } from "./complete-look.js";
import { filterParams } from "./filters.js";
import { clearError, importHint, setStatus, showError, uploadHint } from "./messages.js";
import { config, el } from "./page.js";
import { looksClear, looksRender } from "./looks.js";
import { boxFocus, boxesRender, photoFallback, photoShow } from "./photo.js";
import { firstImagesShown, resultsClear, resultsRender } from "./results.js";
import { state } from "./state.js";
import { uploadTimed } from "./test-hooks.js";

function queryKey() {
  return `${filterParams()}|${state.garment}`;
}

/** Re-send the query after a filter change, unless nothing it depends on has changed. */
export function requery() {
  // A number field fires "input" while typing and "change" when it loses focus: only a real
  // change of the filters (or of the garment) sends a new request.
  if (queryKey() === state.lastQuery) return;
  if (config.mode === "product" || state.upload) queryRun();
}

function garmentSelect(index) {
  if (index === state.garment) return;
  state.garment = index;
  boxesRender(garmentSelect);
  boxFocus(index);
  queryRun();
}

function queryRequest() {
  const params = filterParams();
  params.set("k", String(config.k));
  if (config.mode === "product") return similarRequest(config.productId, params);
  // every garment of the photo gets its own row (the chosen one is the grid)
  params.set("garments", "all");
  if (state.garment !== null) params.set("garment", String(state.garment));
  return imageRecommendRequest(state.upload, state.uploadName, params);
}

/** Send the query and render its answer; `fresh` for a new photo (its time is measured). */
export async function queryRun({ fresh = false } = {}) {
  if (state.controller) state.controller.abort();
  const controller = new AbortController();
  state.controller = controller;
  const generation = ++state.generation;
  el.resultsSection.setAttribute("aria-busy", "true");
  if (!fresh) setStatus("Updating results…");
  const { url, init } = queryRequest();
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
      photoShow(false);
      resultsClear();
      looksClear();
    }
    completeLookClear(); // a look of a query that failed would be stale
    showError(error.message, error.code === "no_active_encoder" ? importHint() : uploadHint(error.code));
    el.error.dataset.code = error.code || "";
    return;
  }
  const body = await response.json();
  if (generation !== state.generation) return;
  marks.answered = performance.now();
  clearError();
  if (body.image) state.image = body.image;
  photoFallback(); // a photo this browser could not show: a stand-in of the size the server read
  if (Array.isArray(body.garments) && body.garments.length) state.garments = body.garments;
  if (typeof body.garment === "number") state.garment = body.garment;
  state.lastQuery = queryKey(); // the garment the API chose is now part of it
  if (config.mode === "image") photoShow(true);
  boxesRender(garmentSelect);
  resultsRender(body);
  if (config.mode === "image") looksRender(body, garmentSelect);
  marks.rendered = performance.now();
  await firstImagesShown();
  if (generation !== state.generation) return;
  marks.server = (body.timings_ms || {}).total;
  finish(generation, fresh, marks);
  completeLookRun(); // after the similar items are on screen, so it never delays them
}

function finish(generation, fresh = false, marks = null) {
  el.resultsSection.setAttribute("aria-busy", "false");
  el.resultsSection.dataset.generation = String(generation);
  if (fresh && state.startedAt !== null) {
    uploadTimed(state.startedAt, marks);
    state.startedAt = null;
  }
}
