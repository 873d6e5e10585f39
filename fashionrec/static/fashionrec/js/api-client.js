/* The public REST API as the page calls it: request builders, list reads and the error format. */

import { config } from "./page.js";

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

/** The API's own message from an error answer ({"error": {"code", "message"}}), or a generic one. */
export async function readError(response) {
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

function listFrom(body) {
  // List endpoints may be paginated ({results: [...]}) or plain arrays.
  return Array.isArray(body) ? body : (body && body.results) || [];
}

/** The first page (up to 100 items) of a list endpoint; null when the server refused. */
export async function listFetch(url) {
  const response = await fetch(`${url}?limit=100`, { headers: { Accept: "application/json" } });
  if (!response.ok) return null;
  return listFrom(await response.json());
}

/** GET /products/{id}/similar/ with the filters and k in params. */
export function similarRequest(productId, params) {
  return {
    url: `${config.urls.similar.replace("{id}", productId)}?${params}`,
    init: { headers: { Accept: "application/json" } },
  };
}

/** A POST of the photo and the params as a multipart form. */
function photoRequest(url, upload, uploadName, params) {
  const form = new FormData();
  form.append("image", upload, uploadName);
  for (const [name, value] of params) form.append(name, value);
  return {
    url,
    init: { method: "POST", body: form, headers: { Accept: "application/json", "X-CSRFToken": csrfToken() } },
  };
}

/** POST /recommendations/: the photo and the filters as a multipart form. */
export function imageRecommendRequest(upload, uploadName, params) {
  return photoRequest(config.urls.recommend, upload, uploadName, params);
}

/** GET /products/{id}/complete-the-look/ with the filters and k (per kind) in params. */
export function productLookRequest(productId, params) {
  return {
    url: `${config.urls.productLook.replace("{id}", productId)}?${params}`,
    init: { headers: { Accept: "application/json" } },
  };
}

/** POST /complete-the-look/: the photo, its chosen garment and the filters. */
export function imageLookRequest(upload, uploadName, params) {
  return photoRequest(config.urls.completeLook, upload, uploadName, params);
}

/** POST /me/interactions/ for the signed-in shopper (session cookie and CSRF token). */
export function interactionCreate(productId, kind) {
  return fetch(config.urls.interactions, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify({ product_id: productId, kind }),
  });
}

export function productUrl(id) {
  return config.urls.product.replace("{id}", id);
}
