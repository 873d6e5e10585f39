/* Complete the look: under the similar items, a row per kind of garment that goes with the query
 * (trousers and shoes for a top, …), from the outfit model (docs/outfits.md).
 *
 * Asked after the similar items are on screen, so it never delays them: on "/" for the photo's
 * chosen garment (POST /complete-the-look/), on a product page for the product
 * (GET /products/{id}/complete-the-look/), with the same filters. It has its own request and
 * generation, so a newer query (another garment, a filter) drops an older answer. When the
 * outfit model is missing or stale (503) or anything else fails, the section is hidden and a
 * short note says so; the rest of the page is untouched.
 */

import { imageLookRequest, productLookRequest, readError } from "./api-client.js";
import { lookCardRender } from "./card.js";
import { filterParams } from "./filters.js";
import { config, el } from "./page.js";
import { state } from "./state.js";

const UNAVAILABLE = new Set(["outfit_model_unavailable", "outfit_model_mismatch"]);
const NOTE_UNAVAILABLE = "Outfit suggestions are not available right now.";
const NOTE_FAILED = "Could not load the pieces that complete this look.";
const NOTE_EMPTY = "Nothing that completes this look matches these filters.";

let controller = null;
let generation = 0;

function lookRequest() {
  const params = filterParams();
  params.set("k", String(config.lookK));
  if (config.mode === "product") return productLookRequest(config.productId, params);
  params.set("garment", String(state.garment ?? 0));
  return imageLookRequest(state.upload, state.uploadName, params);
}

/** Ask for the look of the current query and render it (the answer to an older one is dropped). */
export async function completeLookRun() {
  if (!el.completeLook) return;
  if (controller) controller.abort();
  controller = new AbortController();
  const mine = ++generation;
  el.completeLook.setAttribute("aria-busy", "true");
  const { url, init } = lookRequest();
  let response;
  try {
    response = await fetch(url, { ...init, signal: controller.signal, credentials: "same-origin" });
    if (mine !== generation) return;
    if (!response.ok) {
      const error = await readError(response);
      if (mine !== generation) return;
      hide(UNAVAILABLE.has(error.code) ? NOTE_UNAVAILABLE : NOTE_FAILED, error.code);
      return;
    }
    const body = await response.json();
    if (mine !== generation) return;
    render(body);
  } catch (error) {
    if (error.name === "AbortError" || mine !== generation) return;
    hide(NOTE_FAILED, "network");
  }
}

/** Forget the look (a refused photo): no rows, no note, and any answer still coming is dropped. */
export function completeLookClear() {
  if (!el.completeLook) return;
  if (controller) controller.abort();
  generation += 1;
  el.completeLook.hidden = true;
  el.completeLookRows.replaceChildren();
  el.completeLookNote.hidden = true;
  settle();
}

function render(body) {
  const groups = (body.looks || []).filter((group) => (group.results || []).length > 0);
  el.completeLook.dataset.queryKind = (body.query && body.query.garment_kind) || "";
  el.completeLook.dataset.garment = String(body.garment ?? "");
  if (!groups.length) {
    hide(NOTE_EMPTY, "empty");
    return;
  }
  el.completeLookRows.replaceChildren(...groups.map(rowRender));
  el.completeLook.hidden = false;
  el.completeLookNote.hidden = true;
  settle();
}

function hide(note, reason) {
  el.completeLook.hidden = true;
  el.completeLookRows.replaceChildren();
  el.completeLookNote.textContent = note;
  el.completeLookNote.dataset.reason = reason;
  el.completeLookNote.hidden = false;
  settle();
}

function settle() {
  el.completeLook.setAttribute("aria-busy", "false");
  el.completeLook.dataset.generation = String(generation);
}

function rowRender(group) {
  const row = document.createElement("section");
  row.className = "look-row complete-row";
  row.dataset.completeKind = group.kind;
  const head = document.createElement("h3");
  head.className = "look-row__head complete-row__head";
  const title = document.createElement("span");
  title.className = "look-row__title";
  title.textContent = group.kind;
  head.append(title);
  const grid = document.createElement("ul");
  grid.className = "grid look-row__grid";
  grid.setAttribute("aria-label", `${group.kind} that go with it`);
  grid.append(...group.results.map(lookCardRender));
  row.append(head, grid);
  return row;
}
