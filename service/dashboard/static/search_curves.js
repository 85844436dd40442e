// The learning-curves panel of a search's page: every trial's objective (or
// another metric) epoch by epoch, live while the search runs.

import { chartWidth, redrawOnResize } from "./charts.js";
import { curvesChart } from "./curves.js";
import { countOf, formatScore, h, s } from "./dom.js";
import { curveMetrics, epochProgress, learningCurves } from "./epochs.js";

/**
 * The trials the filter shows, each a curve of the chosen metric: the chosen
 * (best) trial emphasised, running ones highlighted with their progress
 * ("epoch 3/20"), those stopped early dashed with an "x" where they stopped.
 *
 * @param {object} page - The search's page (see search.js).
 * @returns {{element: Element, update: () => void, select: () => void}}
 */
export function curvesPanel(page) {
  const metricSelect = h("select", { id: "curves-metric" });
  const holder = h("div", { className: "chart-holder" });
  const readout = h("p", { className: "readout", "aria-live": "off" }, "\u00a0");
  const element = h("div", {},
    h("div", { className: "toolbar" },
      h("div", { className: "field" }, h("label", { for: "curves-metric" }, "Metric"), metricSelect)),
    holder,
    h("ul", { className: "legend" },
      key("done", "ended"), key("chosen", "the chosen trial"), key("running", "running, with its epochs"),
      key("stopped", "stopped early (×: its last epoch)")),
    readout);
  metricSelect.addEventListener("change", draw);

  function draw() {
    if (!page.search) return;
    updateMetrics(metricSelect, curveMetrics(page.trials, page.search.objective));
    const metric = metricSelect.value;
    const curves = learningCurves(page.shownTrials, metric, page.search.best_trial);
    if (!curves.length) {
      holder.replaceChildren(h("p", { className: "hint" }, "No epoch recorded yet."));
      return;
    }
    const epochs = page.search.epochs;
    const running = curves.filter((curve) => curve.kind === "running").length;
    const stopped = curves.filter((curve) => curve.stoppedEpoch !== null).length;
    holder.replaceChildren(curvesChart({
      title: `Learning curves of ${metric}`,
      description: `${metric} by epoch for ${countOf(curves.length, "trial")}: ${running} running, `
        + `${stopped} stopped early${page.search.best_trial ? `; trial ${page.search.best_trial} is the chosen one` : ""}.`,
      curves, epochs, selected: page.selected, yLabel: metric, width: chartWidth(holder),
      runningLabel: (curve) => `${curve.id}: ${epochProgress(curve.epochsDone, epochs)}`,
      onHover: (hit) => {
        readout.textContent = hit ? `Trial ${hit.id}, epoch ${hit.x}: ${formatScore(hit.y)}` : "\u00a0";
      },
      onPick: (hit) => page.select(hit.id),
    }));
  }
  redrawOnResize(holder, draw, page.signal);
  return { element, update: draw, select: draw };
}

/** A legend entry: a line drawn as the chart draws a curve of `kind`, and its words. */
function key(kind, words) {
  return h("li", {}, s("svg", { width: 28, height: 10, "aria-hidden": "true" },
    s("line", { className: `curve curve-${kind}`, x1: 0, x2: 28, y1: 5, y2: 5 })), words);
}

/** The metric choices, rebuilt only when they change; the objective is chosen first. */
function updateMetrics(select, metrics) {
  const current = [...select.options].map((option) => option.value);
  if (metrics.join("\n") === current.join("\n")) return;
  const chosen = select.value || metrics[0];
  select.replaceChildren(...metrics.map((metric) => h("option", { value: metric, selected: metric === chosen }, metric)));
}
