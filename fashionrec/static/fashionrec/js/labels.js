/* Box labels that never sit on each other, at any photo size.
 *
 * Each label starts at its box's top-left corner, in a fixed font size (readable however small
 * the photo is shown). Boxes of one outfit often share a corner (a top inside the whole-person
 * box, two shoes side by side), so the labels are placed one by one, the chosen garment's
 * first: a label that would overlap one already placed moves down (then up) by its own height
 * until it is free, staying inside the photo. Placement is redone whenever the photo's
 * displayed size changes.
 */

const GAP = 2; // px between two labels

function overlaps(a, b) {
  return a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
}

function shifted(rect, dx, dy) {
  return { left: rect.left + dx, right: rect.right + dx, top: rect.top + dy, bottom: rect.bottom + dy };
}

/** Place `labels` (elements in `frame`, in priority order) so that no two overlap. */
export function labelsPlace(frame, labels) {
  const bounds = frame.getBoundingClientRect();
  if (!bounds.width || !bounds.height) return;
  for (const label of labels) label.style.transform = "";
  const placed = [];
  for (const label of labels) {
    const rect = label.getBoundingClientRect();
    // keep the label inside the photo sideways (a box at the right edge)
    const dx = Math.max(bounds.left - rect.left, Math.min(0, bounds.right - rect.right));
    const step = rect.height + GAP;
    const tries = Math.ceil(bounds.height / step) + 1;
    let chosen = null;
    for (let i = 0; i <= tries && !chosen; i++) {
      for (const dy of i === 0 ? [0] : [i * step, -i * step]) {
        const candidate = shifted(rect, dx, dy);
        if (candidate.top < bounds.top - 0.5 || candidate.bottom > bounds.bottom + 0.5) continue;
        if (!placed.some((other) => overlaps(other, candidate))) {
          chosen = { dy, candidate };
          break;
        }
      }
    }
    // A photo too small for every label: the remaining ones stay at their corners.
    chosen = chosen || { dy: 0, candidate: shifted(rect, dx, 0) };
    label.style.transform = `translate(${dx}px, ${chosen.dy}px)`;
    placed.push(chosen.candidate);
  }
}
