// What the pages compute from the trials' metrics epoch by epoch: the words for
// a running or stopped trial, the learning curves, and the stream's epoch events
// merged into the trials. Pure functions: no DOM.
//
// The API counts epochs from 0 (a trial's `history[metric][epoch]`, an epoch
// event's `epoch`, `stopped_epoch`); people count them from 1, so the curves'
// x axis and the words say "epoch 3" for the API's epoch 2.

/** KerasTuner's sum of a search's several objectives: it means nothing to a reader. */
export const SUMMED_METRIC = "multi_objective";

/**
 * A trial's status in words, with its epochs where they say something:
 * "RUNNING, epoch 3/20", "STOPPED at epoch 3 of 20", else the status itself.
 *
 * @param {{status: string, epochs_done?: number, stopped_epoch?: number|null}} trial
 * @param {number|undefined} epochs - The epochs the search trains each trial.
 */
export function statusText(trial, epochs) {
  if (trial.status === "STOPPED" && Number.isInteger(trial.stopped_epoch)) {
    return `STOPPED at epoch ${trial.stopped_epoch + 1}${epochs ? ` of ${epochs}` : ""}`;
  }
  if (trial.status === "RUNNING") return `RUNNING, ${epochProgress(trial.epochs_done ?? 0, epochs)}`;
  return trial.status;
}

/** How far a running trial is: "epoch 3/20" once it has trained 3 of 20 epochs. */
export function epochProgress(epochsDone, epochs) {
  return `epoch ${epochsDone}${epochs ? `/${epochs}` : ""}`;
}

/** The metrics a trial's history holds, in its order, less the summed one. */
export function historyMetrics(trial) {
  return Object.keys(trial.history ?? {}).filter((name) => name !== SUMMED_METRIC);
}

/**
 * The metrics any of the trials has a history of, the search's objective first.
 *
 * @param {Array} trials - Trials with their `history`.
 * @param {string|null} objective
 */
export function curveMetrics(trials, objective) {
  const names = new Set(objective ? [objective] : []);
  for (const trial of trials) for (const name of historyMetrics(trial)) names.add(name);
  return [...names];
}

/**
 * One metric of a trial, epoch by epoch, as points (x = the epoch counted from 1);
 * epochs without a value are left out.
 *
 * @returns {Array<{x: number, y: number}>}
 */
export function curvePoints(trial, metric) {
  const values = trial.history?.[metric] ?? [];
  const points = [];
  values.forEach((value, epoch) => {
    if (value !== null && Number.isFinite(value)) points.push({ x: epoch + 1, y: value });
  });
  return points;
}

/**
 * How the learning curves draw a trial: "running", "stopped" (early), "chosen"
 * (the search's best trial), or "done".
 */
export function curveKind(trial, bestTrial) {
  if (trial.trial_id === bestTrial) return "chosen";
  if (trial.status === "RUNNING") return "running";
  if (trial.status === "STOPPED") return "stopped";
  return "done";
}

/**
 * The learning curves of one metric: a curve per trial that has a value of it.
 *
 * @param {Array} trials - Trials with their `history`.
 * @param {string} metric
 * @param {string|null} bestTrial - The search's chosen trial.
 * @returns {Array<{id: string, kind: string, points: Array<{x: number, y: number}>,
 *     epochsDone: number, stoppedEpoch: number|null}>}
 */
export function learningCurves(trials, metric, bestTrial) {
  const curves = [];
  for (const trial of trials) {
    const points = curvePoints(trial, metric);
    if (!points.length) continue;
    curves.push({
      id: trial.trial_id, kind: curveKind(trial, bestTrial), points,
      epochsDone: trial.epochs_done ?? points.at(-1).x,
      stoppedEpoch: trial.status === "STOPPED" ? trial.stopped_epoch ?? null : null,
    });
  }
  return curves;
}

/**
 * Merges an epoch event of the search's stream into its trial.
 *
 * An epoch at or before the trial's last one means it is trained again (as
 * the job store and the oracle see it): its history starts anew.
 *
 * @param {Array} trials - The page's trials; the one the event names is changed in place.
 * @param {{trial_id: string, epoch: number, metrics: object, status: string}} event
 * @returns {object|null} The trial, or null when none has the event's id (fetch the trials again).
 */
export function applyEpoch(trials, event) {
  const trial = trials.find((one) => one.trial_id === event.trial_id);
  if (!trial) return null;
  if (event.epoch < (trial.epochs_done ?? 0)) trial.history = {};
  const history = trial.history ?? {};
  for (const name of new Set([...Object.keys(history), ...Object.keys(event.metrics)])) {
    const values = history[name] ?? [];
    while (values.length < event.epoch) values.push(null);
    values[event.epoch] = event.metrics[name] ?? null;
    history[name] = values;
  }
  trial.history = history;
  trial.epochs_done = event.epoch + 1;
  if (trial.status === "RUNNING") {
    trial.status = event.status;
    if (event.status === "STOPPED") trial.stopped_epoch = event.epoch;
  }
  return trial;
}
