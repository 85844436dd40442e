// The parallel coordinates panel of a search's page: one line per trial
// across its hyperparameters and its score.

import { chartWidth, describeAxes, parallelCoordinates, redrawOnResize } from "./charts.js";
import { h } from "./dom.js";
import { scoreBuckets } from "./trials.js";

/**
 * Every trial's hyperparameters and score, darker for better scores; the
 * trials the filter leaves out are grey.
 *
 * @param {object} page - The search's page (see search.js).
 * @returns {{element: Element, update: () => void, select: () => void}}
 */
export function parallelPanel(page) {
  const holder = h("div", { className: "chart-holder scroll-x", tabindex: "0", role: "region",
    "aria-label": "Parallel coordinates; scrolls sideways" });
  const note = h("p", { className: "hint" },
    "One line per trial, darker for better scores; grey lines are trials the filter leaves out. ",
    "A dashed line runs to the ", h("em", {}, "inactive"),
    " mark under an axis when the trial's network has no such hyperparameter (a conditional one).");
  const element = h("div", {}, note, holder);

  function draw() {
    if (!page.search) return;
    if (!page.trials.length) {
      holder.replaceChildren(h("p", { className: "hint" }, "No trial yet."));
      return;
    }
    holder.replaceChildren(parallelCoordinates({
      axes: describeAxes(page.names, page.trials), lines: trialLines(page), selected: page.selected,
      width: chartWidth(holder),
    }));
  }
  redrawOnResize(holder, draw, page.signal);
  return { element, update: draw, select: draw };
}

/** The lines of parallel coordinates: each trial's score bucket, or -1 when the filter leaves it out. */
function trialLines(page) {
  const buckets = scoreBuckets(page.trials, page.search.direction);
  const shown = new Set(page.shownTrials.map((trial) => trial.trial_id));
  return page.trials.map((trial) => ({
    id: trial.trial_id,
    values: trial.hyperparameters,
    score: trial.score,
    bucket: shown.has(trial.trial_id) ? buckets.get(trial.trial_id) ?? 0 : -1,
  }));
}
