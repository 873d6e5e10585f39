/* What the page is showing now, shared by the modules that query and render. */

import { config } from "./page.js";

export const state = {
  upload: null, // the Blob sent for the current photo (home page)
  uploadName: "photo.jpg",
  photoUrl: null,
  garments: config.garments || [],
  image: config.image || null,
  garment: null, // index of the garment the grid is for; null lets the API pick the most confident
  generation: 0, // bumps per request; a late answer to an older request is dropped
  lastQuery: null, // filters and garment of the last request sent
  controller: null,
  startedAt: null, // performance.now() when the user chose the photo
};
