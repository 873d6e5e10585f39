/* Shop the whole look: one row of results per detected garment (garments=all).
 *
 * The chosen garment's row is the results grid itself (its heading names the garment); the
 * other garments follow in #looks, each a row titled with its number (as on its box) and
 * label, showing its first few matches. A row's header selects that garment, as its box does.
 */

import { cardRender } from "./card.js";
import { el } from "./page.js";
import { state } from "./state.js";

const ROW_CARDS = 6; // a row previews this many of the garment's matches

export function garmentName(garment) {
  return garment.is_whole_image ? "whole photo" : garment.label;
}

/** Render the rows of `body.results_by_garment`; with fewer than two garments there is no look. */
export function looksRender(body, onSelect) {
  const looks = Array.isArray(body.results_by_garment) ? body.results_by_garment : [];
  const chosen = looks.find((look) => look.index === state.garment);
  const isLook = looks.length >= 2 && chosen;
  el.looks.hidden = !isLook;
  el.looksRows.replaceChildren();
  if (!isLook) {
    looksClear();
    return;
  }
  if (el.resultsHeading.dataset.plain === undefined) el.resultsHeading.dataset.plain = el.resultsHeading.textContent;
  el.resultsSection.dataset.lookRow = String(chosen.index);
  el.resultsHeading.textContent = `${chosen.index + 1} · Similar to the ${garmentName(chosen)}`;
  for (const look of looks) {
    if (look === chosen) continue;
    el.looksRows.append(rowRender(look, onSelect));
  }
}

export function looksClear() {
  if (!el.looks) return; // the product page has no look
  el.looks.hidden = true;
  el.looksRows.replaceChildren();
  delete el.resultsSection.dataset.lookRow;
  el.resultsHeading.textContent = el.resultsHeading.dataset.plain || el.resultsHeading.textContent;
}

function rowRender(look, onSelect) {
  const row = document.createElement("section");
  row.className = "look-row";
  row.dataset.lookRow = String(look.index);
  const head = document.createElement("button");
  head.type = "button";
  head.className = "look-row__head";
  const number = document.createElement("span");
  number.className = "look-row__number";
  number.textContent = String(look.index + 1);
  const title = document.createElement("span");
  title.className = "look-row__title";
  title.textContent = garmentName(look) + (look.is_main ? " (main garment)" : "");
  const more = document.createElement("span");
  more.className = "look-row__more";
  more.textContent = look.results.length ? `See all ${look.results.length} →` : "No matches";
  head.append(number, title, more);
  head.setAttribute("aria-label", `${garmentName(look)}: show all ${look.results.length} similar items`);
  head.addEventListener("click", () => onSelect(look.index));
  const grid = document.createElement("ul");
  grid.className = "grid look-row__grid";
  grid.setAttribute("aria-label", `Similar to the ${garmentName(look)}`);
  grid.append(...look.results.slice(0, ROW_CARDS).map(cardRender));
  row.append(head, grid);
  return row;
}
