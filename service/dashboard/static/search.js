// One search, live: its progress from the Server-Sent Events stream, and
// panels over its trials with one trial's details. This module fetches and
// follows the search and its trials; each panel is a module of its own
// (search_summary.js, search_workers.js, search_pareto.js, search_history.js,
// search_curves.js, search_parallel.js, search_trials.js, search_details.js).

import { ApiError, api, readEvents } from "./api.js";
import { deleteButton, freedNotice, searchLabel, searchQuestion } from "./deleting.js";
import { FINAL_STATES, announce, errorBox, h } from "./dom.js";
import { applyEpoch } from "./epochs.js";
import { curvesPanel } from "./search_curves.js";
import { trialDetails } from "./search_details.js";
import { historyPanel } from "./search_history.js";
import { parallelPanel } from "./search_parallel.js";
import { paretoPanel } from "./search_pareto.js";
import { searchSummary } from "./search_summary.js";
import { trialsPanel } from "./search_trials.js";
import { workersPanel } from "./search_workers.js";
import { endOrder, hyperparameterNames, visibleTrials } from "./trials.js";

// The trials are fetched again at most this often while a search runs.
const TRIALS_REFRESH_MS = 1000;
// Reconnecting to a stream that closed before the search ended.
const RECONNECT_MS = [1000, 2000, 5000, 10000];
// Epochs that arrive together are drawn together, at most this often.
const EPOCHS_REDRAW_MS = 250;

/**
 * The panels of a search's page, in order. Each is built once by `create(page)`
 * and updated whenever the trials, the filter or the chosen trial change (one
 * with `live`, also whenever the search's progress arrives; one with `epochs`,
 * whenever a trial's epoch arrives); one with `applies` shows only for the
 * searches it is true of.
 */
const PANELS = [
  { id: "workers", title: "Workers", create: workersPanel, live: true,
    applies: (search) => Boolean(search.cluster) },
  { id: "pareto", title: "Pareto front", create: paretoPanel,
    applies: (search) => search.objectives.length > 1 },
  { id: "history", title: "Best so far", create: historyPanel },
  { id: "curves", title: "Learning curves", create: curvesPanel, epochs: true },
  { id: "parallel", title: "Parallel coordinates", create: parallelPanel },
  { id: "trials", title: "Trials", create: trialsPanel, epochs: true },
];

/**
 * Shows the search `searchId` and follows it until it ends or the page is left.
 *
 * The panels share `page`: the search, its trials in end order, their
 * hyperparameters' names, the trials the filter shows, the chosen trial, the
 * filter's choices, and `select(trialId)` and `refilter()` to call.
 */
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

  const summary = searchSummary({ onCancel: cancelSearch, deleteControl });
  const alerts = h("div");
  const details = trialDetails(page, { onClose: () => select(null, false) });
  main.append(summary.head, alerts, summary.element);
  const panels = PANELS.map((panel) => mountPanel(main, panel, page));
  main.append(details.element);

  async function cancelSearch() {
    if (!confirm("Cancel this search? Its running trial is stopped; completed trials are kept.")) return;
    try {
      applySearch(await api(`/v1/searches/${searchId}/cancel`, { method: "POST", signal }));
    } catch (error) {
      if (error.name !== "AbortError") alerts.replaceChildren(errorBox(error.message));
    }
  }

  function deleteControl(search) {
    const label = `search ${searchLabel(search)}`;
    return deleteButton({
      label, question: searchQuestion(search), path: `/v1/searches/${searchId}`, signal,
      text: "Delete search",
      onDeleted: (answer) => {
        const notice = freedNotice(label, answer);
        main.replaceChildren(
          h("h1", { tabindex: "-1" }, `Search ${searchLabel(search)} deleted`),
          h("p", { className: "notice" }, notice, " ", h("a", { href: "#/searches" }, "Back to the searches.")));
        main.querySelector("h1").focus();
        announce(notice);
      },
    });
  }

  function refilter() {
    page.shownTrials = visibleTrials(page.trials,
      { status: page.status, filter: page.filter, top: page.topCount }, page.search?.direction);
    for (const panel of panels) panel.update(page);
  }

  function select(trialId, byUser) {
    page.selected = trialId;
    for (const panel of panels) panel.select?.(page);
    details.update(byUser);
  }

  function applySearch(search) {
    const previous = page.search;
    page.search = search;
    summary.update(search);
    for (const panel of panels) if (panel.live) panel.update(page);
    if (previous && previous.state !== search.state) announce(`Search ${search.state.toLowerCase()}`);
  }

  // Trials, with their histories: fetched at the start, then again when the
  // progress says more have ended, or an epoch names a trial not fetched yet.
  let loadedFor = null; // the (trials_done, state, trialsStarted) the trials were fetched for
  let trialsStarted = 0; // epochs seen of trials not fetched yet
  let loading = null;
  let firstRender = true;
  const wantedTrials = () => `${page.search.trials_done}:${page.search.state}:${trialsStarted}`;
  async function loadTrials() {
    const wanted = wantedTrials();
    if (wanted === loadedFor || loading) return;
    loadedFor = wanted;
    loading = api(`/v1/searches/${searchId}/trials?history=true`, { signal });
    try {
      page.trials = endOrder((await loading).trials);
    } finally {
      loading = null;
    }
    page.names = hyperparameterNames(page.trials);
    refilter();
    details.update(false);
    if (firstRender) {
      firstRender = false;
      markRendered(main, page.trials.length);
    }
    if (wantedTrials() !== loadedFor) {
      setTimeout(() => loadTrials().catch(showError), TRIALS_REFRESH_MS);
    }
  }

  // Epochs: merged into their trials as they arrive, drawn together.
  let epochsRedraw = null;
  const trialsWithEpochs = new Set(); // since the last redraw
  function applyEpochEvent(event) {
    if (!applyEpoch(page.trials, event)) {
      trialsStarted += 1;
      loadTrials().catch(showError);
      return;
    }
    trialsWithEpochs.add(event.trial_id);
    epochsRedraw ??= setTimeout(() => {
      epochsRedraw = null;
      for (const panel of panels) if (panel.epochs) panel.update(page);
      if (trialsWithEpochs.has(page.selected)) details.update(false);
      trialsWithEpochs.clear();
    }, EPOCHS_REDRAW_MS);
  }

  function showError(error) {
    if (error.name === "AbortError" || signal.aborted) return;
    alerts.replaceChildren(errorBox(error.message));
  }

  applySearch(await api(`/v1/searches/${searchId}`, { signal }));
  summary.focus();
  await loadTrials();

  const ticker = setInterval(summary.tick, 1000);
  signal.addEventListener("abort", () => clearInterval(ticker));
  follow(searchId, signal, (view) => {
    applySearch({ ...view, elapsed_seconds: null });
    loadTrials().catch(showError);
  }, applyEpochEvent).catch(showError);
}

/**
 * Builds one of `PANELS` into its titled section at the end of `main`.
 *
 * @returns {{update: (page: object) => void, select: (page: object) => void, live: boolean,
 *     epochs: boolean}}
 *     `update` shows the panel and draws it when it applies to the page's
 *     search; one that does not stays hidden and is never drawn.
 */
function mountPanel(main, panel, page) {
  const titleId = `panel-${panel.id}`;
  const instance = panel.create(page);
  const section = h("section", { className: `card panel panel-${panel.id}`, "aria-labelledby": titleId,
    hidden: Boolean(panel.applies) },
  h("h2", { id: titleId }, panel.title), instance.element);
  main.append(section);
  return {
    update(current) {
      section.hidden = Boolean(panel.applies) && !panel.applies(current.search);
      if (!section.hidden) instance.update(current);
    },
    select: instance.select,
    live: Boolean(panel.live),
    epochs: Boolean(panel.epochs),
  };
}

/** Tells the tests and benchmarks/dashboard.py, which wait for it, that every panel is built. */
function markRendered(main, trialCount) {
  performance.mark("evokt:trials-rendered");
  main.dataset.rendered = String(trialCount);
}

/**
 * Follows the search's event stream until it ends, reconnecting when the
 * connection drops, and polling when the server refuses a stream (it may
 * limit how many are open).
 *
 * @param {string} searchId
 * @param {AbortSignal} signal
 * @param {(view: object) => void} onProgress - The search, as it changes.
 * @param {(event: object) => void} onEpoch - An epoch a trial trained (see epochs.js `applyEpoch`).
 */
async function follow(searchId, signal, onProgress, onEpoch) {
  let attempt = 0;
  while (!signal.aborted) {
    let ended = false;
    try {
      await readEvents(`/v1/searches/${searchId}/events`, ({ event, data }) => {
        attempt = 0;
        if (event === "epoch") onEpoch(JSON.parse(data));
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
