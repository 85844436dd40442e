// One search, live: its progress from the Server-Sent Events stream, and
// panels over its trials (best-so-far history, parallel coordinates, the
// trial table) with one trial's details.

import { ApiError, api, readEvents } from "./api.js";
import { chartWidth, describeAxes, lineChart, parallelCoordinates, redrawOnResize } from "./charts.js";
import {
  FINAL_STATES, announce, elapsedSeconds, errorBox, formatCount, formatScore, formatSeconds,
  formatValue, h, progress, shortId, stateBadge,
} from "./dom.js";
import { TrialTable } from "./table.js";
import {
  better, endOrder, hyperparameterNames, parseFilter, scoreBuckets, scoreHistory,
} from "./trials.js";

// The trials are fetched again at most this often while a search runs.
const TRIALS_REFRESH_MS = 1000;
// Reconnecting to a stream that closed before the search ended.
const RECONNECT_MS = [1000, 2000, 5000, 10000];

/**
 * The panels of a search's page, in order. Each is built once and updated
 * whenever the trials, the filter or the chosen trial change; one with
 * `applies` shows only for the searches it is true of.
 */
const PANELS = [
  { id: "pareto", title: "Pareto front", create: paretoPanel,
    applies: (search) => search.objectives.length > 1 },
  { id: "history", title: "Best so far", create: historyPanel },
  { id: "parallel", title: "Parallel coordinates", create: parallelPanel },
  { id: "trials", title: "Trials", create: trialsPanel },
];

export async function render(main, [searchId], { signal }) {
  const page = {
    search: null,
    trials: [],
    names: [],
    shownTrials: [], // after the filter
    selected: null,
    signal,
    select: (trialId) => select(trialId, true),
    refilter: () => refilter(),
    filter: () => true,
    topCount: null,
    status: "",
  };

  // The heading and the cancel button stay the same elements while the search
  // changes, so the keyboard focus stays on them.
  const title = h("h1", { tabindex: "-1" });
  const cancelButton = h("button", { type: "button", className: "danger", onclick: cancelSearch }, "Cancel search");
  const head = h("div", { className: "page-head" }, title, cancelButton);
  const summary = h("dl", { className: "summary" });
  const alerts = h("div");
  const details = h("section", { className: "card details", "aria-labelledby": "details-title", hidden: true });
  main.append(head, alerts, summary);
  const panels = PANELS.map((panel) => {
    const titleId = `panel-${panel.id}`;
    const instance = panel.create(page);
    const section = h("section", { className: `card panel panel-${panel.id}`, "aria-labelledby": titleId,
      hidden: Boolean(panel.applies) },
    h("h2", { id: titleId }, panel.title), instance.element);
    main.append(section);
    const update = instance.update;
    // A panel that does not apply to this search stays hidden and is never drawn.
    instance.update = (current) => {
      section.hidden = Boolean(panel.applies) && !panel.applies(current.search);
      if (!section.hidden) update(current);
    };
    return instance;
  });
  main.append(details);

  function renderHead() {
    const search = page.search;
    title.replaceChildren(`Search ${shortId(search.id)} `, stateBadge(search.state));
    cancelButton.hidden = FINAL_STATES.has(search.state) || search.state === "CANCELLING";
    const rows = [
      ["State", search.state],
      ["Progress", progress(search)],
      ["Best score", search.best_score === null ? "—"
        : `${formatScore(search.best_score)} (${search.objective}, ${whichIsBetter(search.direction)}; trial ${search.best_trial})`],
      ["Oracle", search.oracle],
      ["Hypermodel", search.hypermodel],
      ["Dataset", search.dataset],
      ["Elapsed", h("span", { id: "elapsed" }, formatSeconds(elapsedSeconds(search)))],
      ["Model", search.model_version
        ? h("a", { href: `#/models/${search.model_name}` }, `${search.model_name} version ${search.model_version}`)
        : search.model_name],
    ];
    if (search.error) rows.push(["Error", search.error]);
    summary.replaceChildren(...rows.flatMap(([term, value]) =>
      [h("dt", {}, term), h("dd", { "data-field": term.toLowerCase().replace(" ", "-") }, value)]));
  }

  async function cancelSearch() {
    if (!confirm("Cancel this search? Its running trial is stopped; completed trials are kept.")) return;
    try {
      applySearch(await api(`/v1/searches/${searchId}/cancel`, { method: "POST", signal }));
    } catch (error) {
      if (error.name !== "AbortError") alerts.replaceChildren(errorBox(error.message));
    }
  }

  function refilter() {
    let shown = page.trials.filter((trial) => (!page.status || trial.status === page.status) && page.filter(trial));
    if (page.topCount) {
      const direction = page.search.direction;
      shown = shown.filter((trial) => trial.score !== null)
        .sort((a, b) => (better(a.score, b.score, direction) ? -1 : better(b.score, a.score, direction) ? 1 : 0))
        .slice(0, page.topCount);
    }
    page.shownTrials = shown;
    for (const panel of panels) panel.update(page);
  }

  function select(trialId, byUser) {
    page.selected = trialId;
    for (const panel of panels) panel.select?.(page);
    renderDetails(byUser);
  }

  function renderDetails(focus) {
    const trial = page.trials.find((one) => one.trial_id === page.selected);
    details.hidden = !trial;
    if (!trial) return;
    const ranked = page.trials.filter((one) => one.score !== null);
    const rank = trial.score === null ? null
      : 1 + ranked.filter((one) => better(one.score, trial.score, page.search.direction)).length;
    const facts = [
      ["Status", trial.status],
      ["Score", formatScore(trial.score)],
      ["Rank", rank === null ? "—" : `${formatCount(rank)} of ${formatCount(ranked.length)} scored trials`],
      ["Ended", trial.ended ? new Date(trial.ended * 1000).toLocaleString() : "—"],
    ];
    if (trial.reevaluates) facts.push(["Re-evaluates", `trial ${trial.reevaluates} (same configuration, trained again)`]);
    // KerasTuner's sum of several objectives means nothing to a reader; each objective is shown.
    for (const [metric, value] of Object.entries(trial.metrics ?? {})) {
      if (metric !== "multi_objective") facts.push([metric, formatScore(value)]);
    }
    if (trial.message) facts.push(["Message", trial.message]);
    details.replaceChildren(
      h("div", { className: "page-head" },
        h("h2", { id: "details-title", tabindex: "-1" }, `Trial ${trial.trial_id}`),
        h("button", { type: "button", className: "quiet", onclick: () => select(null, false) }, "Close")),
      h("dl", { className: "summary" }, facts.flatMap(([term, value]) => [h("dt", {}, term), h("dd", {}, value)])),
      h("table", { className: "hp-table" },
        h("caption", {}, "Hyperparameters (inactive: not used by this network)"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col" }, "Value"))),
        h("tbody", {}, page.names.map((name) => {
          const active = name in trial.hyperparameters;
          return h("tr", { className: active ? undefined : "inactive" },
            h("th", { scope: "row" }, name),
            h("td", {}, active ? formatValue(trial.hyperparameters[name]) : "inactive"));
        }))));
    if (focus) details.querySelector("h2").focus();
  }

  function applySearch(search) {
    const previous = page.search;
    page.search = search;
    renderHead();
    if (previous && previous.state !== search.state) announce(`Search ${search.state.toLowerCase()}`);
  }

  // Trials: fetched at the start, then again when the progress says more have ended.
  let loadedFor = null; // the (trials_done, state) the trials were fetched for
  let loading = null;
  let firstRender = true;
  async function loadTrials() {
    const wanted = `${page.search.trials_done}:${page.search.state}`;
    if (wanted === loadedFor || loading) return;
    loadedFor = wanted;
    loading = api(`/v1/searches/${searchId}/trials`, { signal });
    try {
      page.trials = endOrder((await loading).trials);
    } finally {
      loading = null;
    }
    page.names = hyperparameterNames(page.trials);
    refilter();
    renderDetails(false);
    if (firstRender) {
      firstRender = false;
      // Tests and benchmarks/dashboard.py wait for this: every panel is built.
      performance.mark("evokt:trials-rendered");
      main.dataset.rendered = String(page.trials.length);
    }
    if (`${page.search.trials_done}:${page.search.state}` !== loadedFor) {
      setTimeout(() => loadTrials().catch(showError), TRIALS_REFRESH_MS);
    }
  }

  function showError(error) {
    if (error.name === "AbortError" || signal.aborted) return;
    alerts.replaceChildren(errorBox(error.message));
  }

  applySearch(await api(`/v1/searches/${searchId}`, { signal }));
  title.focus();
  await loadTrials();

  const ticker = setInterval(() => {
    const elapsed = document.getElementById("elapsed");
    if (elapsed && page.search) elapsed.textContent = formatSeconds(elapsedSeconds(page.search));
  }, 1000);
  signal.addEventListener("abort", () => clearInterval(ticker));
  follow(searchId, signal, (view) => {
    applySearch({ ...view, elapsed_seconds: null });
    loadTrials().catch(showError);
  }).catch(showError);
}

/**
 * Follows the search's event stream until it ends, reconnecting when the
 * connection drops, and polling when the server refuses a stream (it may
 * limit how many are open).
 */
async function follow(searchId, signal, onProgress) {
  let attempt = 0;
  while (!signal.aborted) {
    let ended = false;
    try {
      await readEvents(`/v1/searches/${searchId}/events`, ({ event, data }) => {
        attempt = 0;
        if (event !== "progress" && event !== "end") return;
        const view = JSON.parse(data);
        onProgress(view);
        ended ||= event === "end" || FINAL_STATES.has(view.state);
      }, signal);
    } catch (error) {
      if (error.name === "AbortError" || signal.aborted) return;
      if (error instanceof ApiError && error.status === 404) throw error;
      if (error instanceof ApiError && error.status !== 401) {
        const view = await api(`/v1/searches/${searchId}`, { signal });
        onProgress(view);
        ended = FINAL_STATES.has(view.state);
      }
    }
    if (ended) return;
    const delay = RECONNECT_MS[Math.min(attempt, RECONNECT_MS.length - 1)];
    attempt += 1;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}

/** "lower is better" or "higher is better", for an objective's direction. */
function whichIsBetter(direction) {
  return `${direction === "min" ? "lower" : "higher"} is better`;
}

// Panels ---------------------------------------------------------------------------------

/**
 * A multi-objective search's Pareto front: every scored trial placed by its
 * first two objectives, the front's line through the non-dominated ones (the
 * server's `/pareto`, within the search's constraints), and a table of the
 * front whose kept models can be published as a version of a model.
 */
function paretoPanel(page) {
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
    const objectives = pareto.objectives;
    const [first, second] = objectives;
    const dots = page.trials
      .filter((trial) => trial.metrics && Number.isFinite(trial.metrics[first.name])
        && Number.isFinite(trial.metrics[second.name]))
      .map((trial) => ({ x: trial.metrics[second.name], y: trial.metrics[first.name], id: trial.trial_id }));
    const front = pareto.front.map((trial) => ({ x: trial.metrics[second.name], y: trial.metrics[first.name] }))
      .sort((a, b) => a.x - b.x);
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
    } else {
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
    if (!nameInput.value) nameInput.value = page.search.model_name;
    const succeeded = page.search.state === "SUCCEEDED";
    tableHolder.replaceChildren(h("table", { className: "front-table" },
      h("caption", {}, `${formatCount(pareto.front.length)} trials on the front, by ${first.name}`),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col" }, "Trial"),
        objectives.map((objective) => h("th", { scope: "col" }, objective.name)),
        h("th", { scope: "col" }, "Publish"))),
      h("tbody", {}, pareto.front.map((trial) => {
        const button = h("button", { type: "button", disabled: !(succeeded && trial.exported),
          "aria-label": `Publish trial ${trial.trial_id}` }, "Publish");
        button.addEventListener("click", () => publish(trial.trial_id, button));
        return h("tr", { "data-trial": trial.trial_id },
          h("th", { scope: "row" }, h("button", { type: "button", className: "link",
            onclick: () => page.select(trial.trial_id) }, trial.trial_id)),
          objectives.map((objective) => h("td", {}, formatScore(trial.metrics[objective.name]))),
          h("td", {}, succeeded && !trial.exported ? "model not kept" : button));
      }))));
  }

  function update() {
    fetchFront();
    draw();
  }
  redrawOnResize(holder, draw, page.signal);
  return { element, update, select: draw };
}

function historyPanel(page) {
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

function parallelPanel(page) {
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
    const buckets = scoreBuckets(page.trials, page.search.direction);
    const shown = new Set(page.shownTrials.map((trial) => trial.trial_id));
    const lines = page.trials.map((trial) => ({
      id: trial.trial_id,
      values: trial.hyperparameters,
      score: trial.score,
      bucket: shown.has(trial.trial_id) ? buckets.get(trial.trial_id) ?? 0 : -1,
    }));
    holder.replaceChildren(parallelCoordinates({
      axes: describeAxes(page.names, page.trials), lines, selected: page.selected, width: chartWidth(holder),
    }));
  }
  redrawOnResize(holder, draw, page.signal);
  return { element, update: draw, select: draw };
}

function trialsPanel(page) {
  const filterInput = h("input", { id: "trial-filter", type: "search", "aria-describedby": "trial-filter-help" });
  const statusSelect = h("select", { id: "trial-status" }, h("option", { value: "" }, "All"));
  const topInput = h("input", { id: "trial-top", type: "number", min: "1", step: "1", inputmode: "numeric" });
  const count = h("p", { id: "trial-count", className: "count", "aria-live": "polite" });
  const table = new TrialTable({
    onSelect: (trialId) => page.select(trialId),
    onRender: (rows) => { table.element.dataset.domRows = String(rows); },
  });
  const element = h("div", {},
    h("div", { className: "toolbar filters" },
      h("div", { className: "field" },
        h("label", { for: "trial-filter" }, "Filter"),
        filterInput,
        h("span", { id: "trial-filter-help", className: "hint" },
          "Words that must all match, such as relu, num_layers=2, units_1=inactive or score>0.9")),
      h("div", { className: "field" }, h("label", { for: "trial-status" }, "Status"), statusSelect),
      h("div", { className: "field" }, h("label", { for: "trial-top" }, "Best only (count)"), topInput)),
    count,
    table.element);

  let debounce = null;
  filterInput.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      page.filter = parseFilter(filterInput.value);
      page.refilter();
    }, 150);
  });
  statusSelect.addEventListener("change", () => {
    page.status = statusSelect.value;
    page.refilter();
  });
  topInput.addEventListener("input", () => {
    const value = Number.parseInt(topInput.value, 10);
    page.topCount = Number.isFinite(value) && value > 0 ? value : null;
    page.refilter();
  });

  function update() {
    const statuses = [...new Set(page.trials.map((trial) => trial.status))].sort();
    const current = [...statusSelect.options].slice(1).map((option) => option.value);
    if (statuses.join() !== current.join()) {
      statusSelect.replaceChildren(h("option", { value: "" }, "All"),
        statuses.map((status) => h("option", { value: status, selected: status === page.status }, status)));
    }
    count.textContent = page.shownTrials.length === page.trials.length
      ? `${formatCount(page.trials.length)} trials`
      : `Showing ${formatCount(page.shownTrials.length)} of ${formatCount(page.trials.length)} trials`;
    table.update(page.shownTrials, page.names);
  }
  return { element, update, select: () => table.select(page.selected) };
}
