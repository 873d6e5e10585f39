/* The filter form: its values as query parameters, its dropdowns, and re-querying on change. */

import { listFetch } from "./api-client.js";
import { config, el } from "./page.js";

const FILTER_DEBOUNCE_MS = 250;

export function filterParams() {
  const data = new FormData(el.filters);
  const params = new URLSearchParams();
  for (const name of ["category", "price_min", "price_max", "sizes", "season"]) {
    const value = String(data.get(name) || "").trim();
    if (value) params.set(name, value);
  }
  if (data.get("in_stock")) params.set("in_stock", "true");
  return params;
}

export function filtersActive() {
  return [...filterParams().keys()].length > 0;
}

async function optionsLoad(select, url, labelOf) {
  try {
    const items = await listFetch(url);
    for (const item of items || []) {
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

/** Fill the dropdowns and call requery() whenever the filters change (typing is debounced). */
export function filtersWire(requery) {
  let timer = null;
  const onChange = (event) => {
    clearTimeout(timer);
    el.filtersReset.hidden = !filtersActive();
    const typing = event && event.target && event.target.type === "number";
    timer = setTimeout(requery, typing ? FILTER_DEBOUNCE_MS : 0);
  };
  el.filters.addEventListener("change", onChange);
  el.filters.addEventListener("input", (event) => {
    if (event.target.type === "number") onChange(event);
  });
  el.filters.addEventListener("reset", () => {
    // The button hides itself: keep keyboard users' focus in the filters.
    if (document.activeElement === el.filtersReset) el.category.focus();
    el.filtersReset.hidden = true;
    setTimeout(requery, 0);
  });
  el.filters.addEventListener("submit", (event) => event.preventDefault());
  optionsLoad(el.category, config.urls.categories, categoryLabel);
  optionsLoad(el.season, config.urls.seasons, (season) => season.name);
}
