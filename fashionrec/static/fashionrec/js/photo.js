/* The photo (or product image) and its garment boxes. */

import { percent } from "./format.js";
import { labelsPlace } from "./labels.js";
import { config, el } from "./page.js";
import { state } from "./state.js";

// The labels are placed again whenever the displayed photo changes size (window, layout).
let resizeWatch = null;

function labelsLayout() {
  // the chosen garment's label first: it keeps its corner
  const boxes = [...el.photoBoxes.querySelectorAll(".box")];
  boxes.sort((a, b) => Number(b.getAttribute("aria-pressed") === "true") - Number(a.getAttribute("aria-pressed") === "true"));
  labelsPlace(el.photoFrame, boxes.map((box) => box.querySelector(".box__label")));
}

/** Draw a box per detected garment; on "/" each is a button that calls onSelect(index). */
export function boxesRender(onSelect) {
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
      button.addEventListener("click", () => onSelect(garment.index));
    } else {
      button.setAttribute("role", "img");
      button.setAttribute("aria-label", `${what} detected, ${percent(garment.confidence)} confident`);
    }
    const tag = document.createElement("span");
    tag.className = "box__label";
    // numbered as the rows of the look are, so a box and its row are easy to match
    tag.textContent = `${garment.index + 1} ` + (garment.is_whole_image ? "whole photo" : `${garment.label} ${percent(garment.confidence)}`);
    tag.setAttribute("aria-hidden", "true");
    button.append(tag);
    el.photoBoxes.append(button);
  });
  labelsLayout();
  if (!resizeWatch && "ResizeObserver" in window) {
    resizeWatch = new ResizeObserver(() => labelsLayout());
    resizeWatch.observe(el.photoFrame);
  }
  if (el.photoCaption) {
    const real = state.garments.filter((garment) => !garment.is_whole_image);
    const hint = config.mode === "image" ? " Select a box to search for it." : "";
    const found = real.length
      ? `Found ${real.length} garment${real.length === 1 ? "" : "s"}.${hint}`
      : state.garments.length && config.mode === "image"
        ? "No single garment stood out, so the whole photo is used."
        : "";
    const unshown = el.photo.dataset.fallback === "shown" ? `${UNSHOWN_NOTE} ` : "";
    el.photoCaption.textContent = unshown + found;
  }
}

const UNSHOWN_NOTE = "This browser cannot display this photo (HEIC, for example), but the server read it.";

/**
 * A photo the browser cannot decode (HEIC outside Safari) is still sent: the server decodes it
 * and answers with its size and garment boxes. In its place the frame shows a plain stand-in of
 * that size, so the boxes land where the garments are. Called when the <img> fails to load and
 * again when the answer arrives, whichever comes last has what it needs.
 */
export function photoFallback() {
  if (el.photo.dataset.fallback !== "needed" || !state.image || !state.image.width) return;
  const { width, height } = state.image;
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">` +
    `<rect width="100%" height="100%" fill="#e9e6e1"/></svg>`;
  el.photo.dataset.fallback = "shown";
  el.photo.src = `data:image/svg+xml,${encodeURIComponent(svg)}`;
  el.photo.alt = `Your photo (${width}×${height}), which this browser cannot display`;
  if (el.photoCaption && !el.photoCaption.textContent.startsWith(UNSHOWN_NOTE)) {
    el.photoCaption.textContent = `${UNSHOWN_NOTE} ${el.photoCaption.textContent}`.trim();
  }
}

/** Watch the <img> of a new photo: if the browser cannot decode it, fall back (see photoFallback). */
export function photoWatch() {
  el.photo.dataset.fallback = "";
  el.photo.onerror = () => {
    if (el.photo.dataset.fallback === "shown") return; // the stand-in itself never fails; be safe
    el.photo.dataset.fallback = "needed";
    photoFallback();
  };
}

export function boxFocus(index) {
  const box = el.photoBoxes.querySelector(`[data-index="${index}"]`);
  if (box) box.focus();
}

/** The drop zone shows either its invitation or the photo with its boxes. */
export function photoShow(visible) {
  el.photoFigure.hidden = !visible;
  el.dropzoneEmpty.hidden = visible;
  el.dropzone.dataset.state = visible ? "photo" : "empty";
  el.photoActions.hidden = !visible;
}
