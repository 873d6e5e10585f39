/* Getting a photo in: file picker, camera, drop anywhere on the page, paste. */

import { clearError, setStatus } from "./messages.js";
import { $, el } from "./page.js";
import { photoWatch } from "./photo.js";
import { queryRun } from "./query.js";
import { state } from "./state.js";

// Photos above this size are scaled down in the browser before upload: the detector works
// at 320 px and the encoder on small crops, so a 12-megapixel phone photo only costs upload
// and decode time. Smaller files go as they are (no re-encoding of what the user gave us).
const DOWNSCALE_ABOVE_BYTES = 1.5 * 1024 * 1024;
const DOWNSCALE_LONG_SIDE = 1600;

async function uploadPrepare(file) {
  // Large photos are scaled down here (with their EXIF orientation applied); anything the
  // browser cannot decode is sent unchanged so that the server gives the precise reason.
  if (file.size <= DOWNSCALE_ABOVE_BYTES || !("createImageBitmap" in window)) return file;
  let bitmap;
  try {
    bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
  } catch {
    return file;
  }
  const scale = DOWNSCALE_LONG_SIDE / Math.max(bitmap.width, bitmap.height);
  if (scale >= 1) {
    bitmap.close();
    return file;
  }
  const canvas = document.createElement("canvas");
  canvas.width = Math.round(bitmap.width * scale);
  canvas.height = Math.round(bitmap.height * scale);
  canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  return blob || file;
}

async function fileChosen(file) {
  if (!file) return;
  state.startedAt = performance.now();
  clearError();
  state.garment = null;
  state.garments = [];
  state.image = null;
  setStatus(`Looking at ${file.name || "your photo"}…`);
  const upload = await uploadPrepare(file);
  state.upload = upload;
  state.uploadName = upload === file ? file.name || "photo" : "photo.jpg";
  if (state.photoUrl) URL.revokeObjectURL(state.photoUrl);
  state.photoUrl = URL.createObjectURL(upload);
  el.photoBoxes.replaceChildren();
  photoWatch();
  el.photo.src = state.photoUrl;
  el.photo.alt = `Your photo${file.name ? ` (${file.name})` : ""}`;
  await queryRun({ fresh: true });
}

export function dropzoneWire() {
  for (const button of document.querySelectorAll("[data-pick]")) {
    button.addEventListener("click", () => document.getElementById(button.dataset.pick).click());
  }
  for (const input of [$("#photo-input"), $("#camera-input")]) {
    if (!input) continue;
    input.addEventListener("change", () => {
      const file = input.files && input.files[0];
      input.value = ""; // choosing the same file again must fire "change" again
      fileChosen(file);
    });
  }
  // Dropping anywhere on the page works; the drop zone lights up while dragging.
  let depth = 0;
  const hasFiles = (event) => event.dataTransfer && [...event.dataTransfer.types].includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    depth += 1;
    el.dropzone.classList.add("dropzone--active");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) el.dropzone.classList.remove("dropzone--active");
  });
  document.addEventListener("dragover", (event) => {
    if (hasFiles(event)) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    depth = 0;
    el.dropzone.classList.remove("dropzone--active");
    fileChosen(event.dataTransfer.files[0]);
  });
  document.addEventListener("paste", (event) => {
    const file = [...(event.clipboardData ? event.clipboardData.files : [])].find((f) => f.type.startsWith("image/"));
    if (file) fileChosen(file);
  });
}
