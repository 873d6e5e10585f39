/* Like / Not for me (POST /me/interactions/) on cards and on the product page, when signed in. */

import { interactionCreate, readError } from "./api-client.js";
import { setStatus, showError } from "./messages.js";
import { $ } from "./page.js";

/** Wire the like and dislike buttons inside `actions` (its data-product-id names the product). */
export function interactionsWire(actions, title) {
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
    const response = await interactionCreate(productId, kind);
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
