// One trial's details on a search's page: its status, score and rank, each
// objective's metric, its hyperparameters (inactive ones marked), and the
// curve of every metric it recorded, epoch by epoch.

import { chartWidth, lineChart } from "./charts.js";
import { countOf, formatCount, formatScore, formatValue, h } from "./dom.js";
import { SUMMED_METRIC, curvePoints, historyMetrics, statusText } from "./epochs.js";
import { scoreRank } from "./trials.js";

/**
 * The details of the page's chosen trial (`page.selected`), hidden while
 * none is chosen.
 *
 * @param {object} page - The search's page (see search.js).
 * @param {object} options
 * @param {() => void} options.onClose - The close button was pressed.
 * @returns {{element: Element, update: (focus: boolean) => void}} `update`
 *     draws the chosen trial, with the keyboard focus on its heading when `focus`.
 */
export function trialDetails(page, { onClose }) {
  const element = h("section", { className: "card details", "aria-labelledby": "details-title", hidden: true });

  function update(focus) {
    const trial = page.trials.find((one) => one.trial_id === page.selected);
    element.hidden = !trial;
    if (!trial) return;
    element.replaceChildren(
      h("div", { className: "page-head" },
        h("h2", { id: "details-title", tabindex: "-1" }, `Trial ${trial.trial_id}`),
        h("button", { type: "button", className: "quiet", onclick: onClose }, "Close")),
      h("dl", { className: "summary" },
        trialFacts(trial, page).flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
      hyperparameterTable(trial, page.names),
      h("h3", {}, "Metrics by epoch"));
    drawMetricCurves(element, trial);
    if (focus) element.querySelector("h2").focus();
  }

  return { element, update };
}

/** The trial's terms and their values: status, score, rank, end, metrics, message. */
function trialFacts(trial, page) {
  const scored = page.trials.filter((one) => one.score !== null).length;
  const rank = scoreRank(page.trials, trial.score, page.search.direction);
  const facts = [
    ["Status", statusText(trial, page.search.epochs)],
    ["Epochs trained", `${formatCount(trial.epochs_done ?? 0)} of ${formatCount(page.search.epochs)}`],
    ["Score", formatScore(trial.score)],
    ["Rank", rank === null ? "—" : `${formatCount(rank)} of ${formatCount(scored)} scored trials`],
    ["Ended", trial.ended ? new Date(trial.ended * 1000).toLocaleString() : "—"],
  ];
  if (trial.reevaluates) facts.push(["Re-evaluates", `trial ${trial.reevaluates} (same configuration, trained again)`]);
  // KerasTuner's sum of several objectives means nothing to a reader; each objective is shown.
  for (const [metric, value] of Object.entries(trial.metrics ?? {})) {
    if (metric !== SUMMED_METRIC) facts.push([metric, formatScore(value)]);
  }
  if (trial.message) facts.push(["Message", trial.message]);
  return facts;
}

/** A small chart per metric of the trial's history, appended to `element` (drawn in place,
 * where they know their width). */
function drawMetricCurves(element, trial) {
  const metrics = historyMetrics(trial);
  if (!metrics.length) {
    element.append(h("p", { className: "hint" }, "No epoch recorded."));
    return;
  }
  const cells = metrics.map((metric) => h("div", { className: "metric-curve", "data-metric": metric }));
  element.append(h("div", { className: "metric-curves" }, cells));
  metrics.forEach((metric, index) => {
    const points = curvePoints(trial, metric);
    cells[index].append(h("h4", {}, metric), lineChart({
      title: `${metric} of trial ${trial.trial_id} by epoch`,
      description: `${countOf(points.length, "epoch")}; ${formatScore(points.at(-1)?.y)} at the last.`,
      series: [{ label: metric, points }],
      xLabel: "epoch", yLabel: metric, width: chartWidth(cells[index]),
    }));
  });
}

/** Every hyperparameter the search uses, with the trial's value or "inactive". */
function hyperparameterTable(trial, names) {
  return h("table", { className: "hp-table" },
    h("caption", {}, "Hyperparameters (inactive: not used by this network)"),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
    h("tbody", {}, names.map((name) => {
      const active = name in trial.hyperparameters;
      return h("tr", { className: active ? undefined : "inactive" },
        h("th", { scope: "row" }, name),
        h("td", {}, active ? formatValue(trial.hyperparameters[name]) : "inactive"));
    })));
}
