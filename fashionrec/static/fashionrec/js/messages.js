/* The status line (aria-live), the error notice (role="alert") and the hints under an error. */

import { config, el } from "./page.js";

export function setStatus(text) {
  el.status.textContent = text;
}

export function showError(message, extra) {
  el.error.replaceChildren();
  const p = document.createElement("p");
  p.textContent = message;
  el.error.append(p);
  if (extra) el.error.append(extra);
  el.error.hidden = false;
}

export function clearError() {
  el.error.hidden = true;
  el.error.replaceChildren();
}

// What to try next, under the API's own message.
const UPLOAD_HINTS = {
  too_large: "Try a smaller photo: a phone photo or a screenshot works well.",
  too_many_pixels: "Try a smaller photo: a phone photo or a screenshot works well.",
  decoded_too_large: "Try a smaller photo: a phone photo or a screenshot works well.",
  unsupported_mode: "Choose an ordinary 8-bit JPEG, PNG, WebP or HEIC photo.",
  not_an_image: "Choose a JPEG, PNG, WebP or HEIC photo.",
  unsupported_format: "Choose a JPEG, PNG, WebP or HEIC photo.",
  truncated: "The file seems incomplete; try saving or exporting the photo again.",
  empty: "The file is empty; choose another photo.",
};

export function uploadHint(code) {
  if (!UPLOAD_HINTS[code]) return null;
  const p = document.createElement("p");
  p.className = "notice__hint";
  p.textContent = UPLOAD_HINTS[code];
  return p;
}

export function importHint() {
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
