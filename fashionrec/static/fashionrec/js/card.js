/* One result card: photo, title, brand, price, sizes in stock, seasons and the score breakdown.
 *
 * A similar item's headline is its calibrated match; a complete-the-look item's is its
 * compatibility with the query garment (both in [0, 1], shown as a percentage).
 */

import { productUrl } from "./api-client.js";
import { formatPrice, percent } from "./format.js";
import { interactionsWire } from "./interactions.js";
import { $, config, el } from "./page.js";

const BREAKDOWN_LABELS = {
  similarity: "Cosine (raw)",
  match: "Looks similar",
  compatibility: "Goes with it",
  seasonal: "Seasonal pick",
  preference: "Your preferences",
  taste: "Your taste",
  dislike: "Near your dislikes",
  inventory: "Stock",
};

let cardCount = 0; // ids of the breakdown panels, unique on the page

// The headline of a card: its label and the result field it shows.
const SIMILAR_HEADLINE = { label: "Match", field: "match" };
const LOOK_HEADLINE = { label: "Goes with it", field: "compatibility" };

/** A similar item (recommendations, similar products). */
export function cardRender(result) {
  return cardBuild(result, SIMILAR_HEADLINE);
}

/** A product that completes the look: the headline is its compatibility. */
export function lookCardRender(result) {
  const card = cardBuild(result, LOOK_HEADLINE);
  card.dataset.compatibility = String(result.compatibility ?? "");
  return card;
}

function cardBuild(result, headline) {
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
  sizesRender($(".card__sizes", card), sizes);
  seasonsRender($(".card__seasons", card), product.seasons || []);
  breakdownRender(card, result, product.title, headline);

  if (config.signedIn) {
    const actions = $(".card__actions", card);
    actions.hidden = false;
    actions.dataset.productId = product.id;
    interactionsWire(actions, product.title);
  }
  return card;
}

function sizesRender(sizesEl, sizes) {
  if (!sizes.length) {
    sizesEl.textContent = "Out of stock";
    sizesEl.classList.add("card__sizes--out");
    return;
  }
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
}

function seasonsRender(seasonsEl, seasons) {
  for (const season of seasons) {
    const badge = document.createElement("span");
    badge.className = `badge badge--season badge--${String(season.name).toLowerCase().replace(/[^a-z]+/g, "-")}`;
    badge.textContent = season.name;
    seasonsEl.append(badge);
  }
  if (!seasonsEl.childElementCount) seasonsEl.remove();
}

function breakdownRender(card, result, title, headline) {
  // The score breakdown: on hover and keyboard focus by CSS, on tap by the toggle.
  const panelId = `score-${++cardCount}`;
  const toggle = $(".score__toggle", card);
  const panel = $(".score__panel", card);
  panel.id = panelId;
  toggle.setAttribute("aria-controls", panelId);
  // "match" is calibrated (P(same kind of garment), docs/api.md), so a wrong result reads low;
  // the raw cosine crowds near 1 for every result and is only listed in the breakdown.
  // "compatibility" is the outfit model's calibrated probability that the two are worn together.
  const value = Math.max(0, Math.min(1, result[headline.field] ?? 0));
  toggle.textContent = `${headline.label} ${percent(value)}`;
  toggle.setAttribute("aria-label", `${headline.label} ${percent(value)}: show why`);
  panel.setAttribute("aria-label", `Why ${title} was recommended`);
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
  });
  const list = $(".score__list", card);
  for (const [key, value] of Object.entries(result.score_breakdown || {})) {
    const dt = document.createElement("dt");
    dt.textContent = BREAKDOWN_LABELS[key] || key;
    const dd = document.createElement("dd");
    // the raw cosine is information, not a part of the score: no sign
    const sign = key === "similarity" ? "" : value >= 0 ? "+" : "−";
    dd.textContent = sign + Math.abs(value).toFixed(2);
    if (value > 0 && key !== "similarity" && key !== headline.field) dd.className = "up";
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
}
