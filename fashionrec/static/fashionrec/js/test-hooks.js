/* Upload → results-on-screen timings for the browser tests, kept out of production pages.
 *
 * Only a page opened with ?testhooks=1 records them: window.fashionrecTimings (ms from choosing
 * the photo until the grid and the photos of its first cards are on screen), and
 * window.fashionrecTimingDetails (the same split into phases, and the server's own total).
 */

import { el } from "./page.js";

const enabled = new URLSearchParams(window.location.search).get("testhooks") === "1";

if (enabled) {
  window.fashionrecTimings = [];
  window.fashionrecTimingDetails = [];
}

/** Record one upload; `startedAt` and the marks are performance.now() values. */
export function uploadTimed(startedAt, marks) {
  if (!enabled) return;
  const elapsed = performance.now() - startedAt;
  window.fashionrecTimings.push(elapsed);
  if (marks) {
    const since = (mark) => Math.round(mark - startedAt);
    window.fashionrecTimingDetails.push({
      total: Math.round(elapsed),
      sent: since(marks.sent),
      answered: since(marks.answered),
      rendered: since(marks.rendered),
      server: marks.server,
    });
  }
  el.resultsSection.dataset.uploadMs = elapsed.toFixed(1);
}
