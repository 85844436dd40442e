// The Pareto front panel of a multi-objective search: its scatter and the
// table of the front, whose kept models can be published.

import { api } from "./api.js";
import { chartWidth, lineChart, redrawOnResize } from "./charts.js";
import { errorBox, formatCount, formatScore, h } from "./dom.js";
import { paretoPoints, whichIsBetter } from "./trials.js";

/**
 * A multi-objective search's Pareto front: every scored trial placed by its
 * first two objectives, the front's line through the non-dominated ones (the
 * server's `/pareto`, within the search's constraints), and a table of the
 * front whose kept models can be published as a version of a model.
 *
 * @param {object} page - The search's page (see search.js).
 * @returns {{element: Element, update: () => void, select: () => void}}
 */
export function paretoPanel(page) {
  const holder = h("div", { className: "chart-holder" });
  const readout = h("p", { className: "readout", "aria-live": "off" }, "\u00a0");
  const logXBox = h("input", { type: "checkbox", id: "pareto-log-x" });
  const nameInput = h("input", { id: "pareto-model-name", type: "text", autocomplete: "off",
    "aria-describedby": "pareto-model-help" });
  const outcome = h("div", { "aria-live": "polite" });
  const tableHolder = h("div", { className: "scroll-x" });
  const element = h("div", {},
    h("div", { className: "toolbar" }, h("label", { className: "check" }, logXBox, "Logarithmic x axis")),
    holder, readout,
    h("div", { className: "toolbar" },
      h("div", { className: "field" },
        h("label", { for: "pareto-model-name" }, "Publish as model"), nameInput,
        h("span", { id: "pareto-model-help", className: "hint" },
          "A trial of the front becomes this model's next version; its models are kept once the search has succeeded."))),
    outcome, tableHolder);
  let pareto = null;
  let fetchedFor = null;
  let logChosen = false; // by the reader, or once by the data's span
  logXBox.addEventListener("change", () => {
    logChosen = true;
    draw();
  });

  async function fetchFront() {
    const wanted = `${page.search.trials_done}:${page.search.state}`;
    if (wanted === fetchedFor) return;
    fetchedFor = wanted;
    try {
      pareto = await api(`/v1/searches/${page.search.id}/pareto`, { signal: page.signal });
    } catch (error) {
      if (error.name !== "AbortError") outcome.replaceChildren(errorBox(error.message));
      return;
    }
    draw();
  }

  async function publish(trialId, button) {
    button.disabled = true;
    try {
      const published = await api(`/v1/searches/${page.search.id}/publish`, {
        method: "POST", json: { trial_id: trialId, model_name: nameInput.value.trim() }, signal: page.signal });
      outcome.replaceChildren(h("p", { className: "notice", role: "status" },
        `Trial ${published.trial_id} is `,
        h("a", { href: `#/models/${published.name}` }, `${published.name} version ${published.version}`), "."));
    } catch (error) {
      if (error.name !== "AbortError") outcome.replaceChildren(errorBox(error.message));
    } finally {
      button.disabled = false;
    }
  }

  function draw() {
    if (!pareto) return;
    drawChart();
    if (!nameInput.value) nameInput.value = page.search.model_name;
    tableHolder.replaceChildren(frontTable(pareto, {
      succeeded: page.search.state === "SUCCEEDED", onPick: page.select, onPublish: publish }));
  }

  function drawChart() {
    const [first, second] = pareto.objectives;
    const { dots, front } = paretoPoints(page.trials, pareto.front, { x: second.name, y: first.name });
    const positive = dots.every((dot) => dot.x > 0);
    logXBox.disabled = !positive;
    if (!logChosen && positive && dots.length) {
      // Sizes and latencies spanning a decade or more read best on a log axis.
      const xs = dots.map((dot) => dot.x);
      logXBox.checked = Math.max(...xs) >= 10 * Math.min(...xs);
      logChosen = true;
    }
    if (!dots.length) {
      holder.replaceChildren(h("p", { className: "hint" }, "No trial with both objectives measured yet."));
      return;
    }
    holder.replaceChildren(lineChart({
      title: "Pareto front",
      description: `${formatCount(dots.length)} trials by ${first.name} (${first.direction}) and ${second.name} (${second.direction}); the line joins the ${formatCount(front.length)} trials of the front.`,
      series: [{ label: "Pareto front", points: front, step: true, marks: true }],
      dots,
      selected: page.selected,
      logX: positive && logXBox.checked,
      trialAxis: false,
      xLabel: `${second.name} (${whichIsBetter(second.direction)})`,
      yLabel: `${first.name} (${whichIsBetter(first.direction)})`,
      width: chartWidth(holder),
      onHover: (dot) => {
        readout.textContent = dot
          ? `Trial ${dot.id}: ${first.name} ${formatScore(dot.y)}, ${second.name} ${formatScore(dot.x)}` : "\u00a0";
      },
      onPick: (dot) => page.select(dot.id),
    }));
  }

  function update() {
    fetchFront();
    draw();
  }
  redrawOnResize(holder, draw, page.signal);
  return { element, update, select: draw };
}

/**
 * The table of the front: a row per trial with its objectives and a button
 * that publishes its model (enabled once the search has succeeded, for a
 * trial whose model was kept).
 *
 * @param {{objectives: Array<{name: string}>, front: Array}} pareto - The API's `/pareto`.
 * @param {object} options
 * @param {boolean} options.succeeded - The search has succeeded.
 * @param {(trialId: string) => void} options.onPick - A trial chosen for details.
 * @param {(trialId: string, button: Element) => void} options.onPublish
 */
function frontTable({ objectives, front }, { succeeded, onPick, onPublish }) {
  return h("table", { className: "front-table" },
    h("caption", {}, `${formatCount(front.length)} trials on the front, by ${objectives[0].name}`),
    h("thead", {}, h("tr", {},
      h("th", { scope: "col" }, "Trial"),
      objectives.map((objective) => h("th", { scope: "col" }, objective.name)),
      h("th", { scope: "col" }, "Publish"))),
    h("tbody", {}, front.map((trial) => {
      const button = h("button", { type: "button", disabled: !(succeeded && trial.exported),
        "aria-label": `Publish trial ${trial.trial_id}` }, "Publish");
      button.addEventListener("click", () => onPublish(trial.trial_id, button));
      return h("tr", { "data-trial": trial.trial_id },
        h("th", { scope: "row" }, h("button", { type: "button", className: "link",
          onclick: () => onPick(trial.trial_id) }, trial.trial_id)),
        objectives.map((objective) => h("td", {}, formatScore(trial.metrics[objective.name]))),
        h("td", {}, succeeded && !trial.exported ? "model not kept" : button));
    })));
}
