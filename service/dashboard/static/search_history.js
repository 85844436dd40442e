// The best-so-far panel of a search's page: every scored trial in the order
// it ended, and the line of the best score so far.

import { chartWidth, lineChart, redrawOnResize } from "./charts.js";
import { formatCount, formatScore, h } from "./dom.js";
import { scoreHistory } from "./trials.js";

/**
 * The search's history, with logarithmic score and trial axes to choose
 * (the score axis only while every score is above zero).
 *
 * @param {object} page - The search's page (see search.js).
 * @returns {{element: Element, update: () => void, select: () => void}}
 */
export function historyPanel(page) {
  const logBox = h("input", { type: "checkbox", id: "history-log" });
  const logXBox = h("input", { type: "checkbox", id: "history-log-x" });
  const logNote = h("span", { className: "hint" });
  const holder = h("div", { className: "chart-holder" });
  const readout = h("p", { className: "readout", "aria-live": "off" }, "\u00a0");
  const element = h("div", {},
    h("div", { className: "toolbar" },
      h("label", { className: "check" }, logBox, "Logarithmic score axis"), logNote,
      h("label", { className: "check" }, logXBox, "Logarithmic trial axis")),
    holder, readout);
  logBox.addEventListener("change", draw);
  logXBox.addEventListener("change", draw);

  function draw() {
    if (!page.search) return;
    const { dots, best } = scoreHistory(page.trials, page.search.direction);
    const positive = dots.every((dot) => dot.y > 0);
    logBox.disabled = !positive;
    logNote.textContent = positive ? "" : "(needs all scores above zero)";
    if (!dots.length) {
      holder.replaceChildren(h("p", { className: "hint" }, "No scored trial yet."));
      return;
    }
    const bestScore = best.at(-1).y;
    holder.replaceChildren(lineChart({
      title: "Best score so far",
      description: `${formatCount(dots.length)} scored trials in the order they ended; the line is the best score so far, ${formatScore(bestScore)} at the end.`,
      series: [{ label: "best so far", points: best, step: true }],
      dots,
      selected: page.selected,
      log: positive && logBox.checked,
      logX: logXBox.checked,
      xLabel: "trials, in the order they ended",
      yLabel: page.search.objective ?? "score",
      width: chartWidth(holder),
      onHover: (dot) => {
        readout.textContent = dot ? `Trial ${dot.id}: ${formatScore(dot.y)} (${formatCount(dot.x)}th to end)` : "\u00a0";
      },
      onPick: (dot) => page.select(dot.id),
    }));
  }
  redrawOnResize(holder, draw, page.signal);
  return { element, update: draw, select: draw };
}
