/* The results grid, its summary line, and what to say when it is empty. */

import { cardRender } from "./card.js";
import { filtersActive } from "./filters.js";
import { importHint, setStatus } from "./messages.js";
import { el } from "./page.js";
import { state } from "./state.js";

// "Results on screen" includes the photos of the first two rows of cards.
const FIRST_CARDS = 8;

export function resultsRender(body) {
  const results = body.results || [];
  if (el.placeholder) el.placeholder.hidden = true;
  el.results.replaceChildren(...results.map(cardRender));
  const chosen = state.garments.find((garment) => garment.index === state.garment);
  const about = chosen && !chosen.is_whole_image ? ` for the ${chosen.label}` : "";
  const timings = body.timings_ms || {};
  el.resultsMeta.textContent = results.length
    ? `${results.length} item${results.length === 1 ? "" : "s"}${about}` +
      (timings.total ? ` · answered in ${Math.round(timings.total)} ms` : "")
    : "";
  el.resultsEmpty.hidden = results.length > 0;
  if (!results.length) emptyRender();
  setStatus(results.length ? `Showing ${results.length} similar item${results.length === 1 ? "" : "s"}${about}.` : "No similar items found.");
}

export function resultsClear() {
  el.results.replaceChildren();
  el.resultsMeta.textContent = "";
  el.resultsEmpty.hidden = true;
  if (el.placeholder) el.placeholder.hidden = false;
}

/** Resolves once the photos of the first cards are decoded and painted. */
export async function firstImagesShown() {
  const images = [...el.results.querySelectorAll("img")].slice(0, FIRST_CARDS);
  await Promise.all(images.map((img) => img.decode().catch(() => undefined)));
  await new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve)));
}

function emptyRender() {
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
