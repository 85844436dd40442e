// What the pages compute from a search's trials: their end order, the best
// score so far, ranks, the hyperparameters' names, the Pareto front's
// points, filters and sorting. Pure functions: no DOM.
//
// A trial's `hyperparameters` holds only its active values: a name that is
// missing is an inactive conditional hyperparameter (the width of a layer
// the network does not have).

/** A trial id's number, for ordering "2" before "10". */
function idNumber(trial) {
  const number = Number(trial.trial_id);
  return Number.isFinite(number) ? number : Infinity;
}

function compareIds(a, b) {
  return idNumber(a) - idNumber(b) || a.trial_id.localeCompare(b.trial_id);
}

/** Trials in the order they ended (the order the search saw their scores). */
export function endOrder(trials) {
  return [...trials].sort((a, b) => {
    const ended = (a.ended ?? Infinity) - (b.ended ?? Infinity);
    return (Number.isNaN(ended) ? 0 : ended) || compareIds(a, b);
  });
}

/** Whether `a` is a better score than `b` for the search's direction. */
export function better(a, b, direction) {
  return direction === "min" ? a < b : a > b;
}

/** "lower is better" or "higher is better", for an objective's direction. */
export function whichIsBetter(direction) {
  return `${direction === "min" ? "lower" : "higher"} is better`;
}

/**
 * A score's rank among the trials' scores: 1 for the best, and one more for
 * each better score (equal scores share a rank); null for no score.
 */
export function scoreRank(trials, score, direction) {
  if (score === null) return null;
  return 1 + trials.filter((trial) => trial.score !== null && better(trial.score, score, direction)).length;
}

/**
 * The search's history: each scored trial's score and the best score so
 * far, by end order (x = 1 for the first trial to end).
 *
 * @returns {{dots: Array<{x, y, id}>, best: Array<{x, y}>}}
 */
export function scoreHistory(trials, direction) {
  const dots = [];
  const best = [];
  let bestScore = null;
  endOrder(trials).forEach((trial, index) => {
    if (trial.score === null) return;
    const x = index + 1;
    dots.push({ x, y: trial.score, id: trial.trial_id });
    if (bestScore === null || better(trial.score, bestScore, direction)) {
      bestScore = trial.score;
      best.push({ x, y: bestScore });
    }
  });
  if (best.length && dots.length) best.push({ x: dots.at(-1).x, y: bestScore });
  return { dots, best };
}

/**
 * Every hyperparameter name the trials use, in the order the search space
 * defines them: a name first seen in a later trial goes right after the name
 * that precedes it there (`units_2` after `activation_1`).
 */
export function hyperparameterNames(trials) {
  const names = [];
  const known = new Set();
  for (const trial of trials) {
    let previous = null;
    for (const name of Object.keys(trial.hyperparameters)) {
      if (!known.has(name)) {
        known.add(name);
        names.splice(previous === null ? 0 : names.indexOf(previous) + 1, 0, name);
      }
      previous = name;
    }
  }
  return names;
}

/**
 * The score buckets 0..4 (4 best) of scored trials, by rank, for colour.
 *
 * @returns {Map<string, number>} Trial id to bucket.
 */
export function scoreBuckets(trials, direction) {
  const scored = trials.filter((trial) => trial.score !== null)
    .sort((a, b) => (direction === "min" ? b.score - a.score : a.score - b.score));
  return new Map(scored.map((trial, rank) =>
    [trial.trial_id, Math.min(4, Math.floor((rank * 5) / scored.length))]));
}

/**
 * A Pareto front's scatter: a dot for every trial with both metrics measured,
 * and the front's points in the order of x.
 *
 * @param {Array} trials - Trials as the API returns them.
 * @param {Array} front - The trials of the front (the API's `/pareto`).
 * @param {{x: string, y: string}} metrics - The metric of each axis.
 * @returns {{dots: Array<{x, y, id}>, front: Array<{x, y}>}}
 */
export function paretoPoints(trials, front, metrics) {
  const dots = trials
    .filter((trial) => trial.metrics && Number.isFinite(trial.metrics[metrics.x])
      && Number.isFinite(trial.metrics[metrics.y]))
    .map((trial) => ({ x: trial.metrics[metrics.x], y: trial.metrics[metrics.y], id: trial.trial_id }));
  const line = front.map((trial) => ({ x: trial.metrics[metrics.x], y: trial.metrics[metrics.y] }))
    .sort((a, b) => a.x - b.x);
  return { dots, front: line };
}

/**
 * The trials a search's page shows: those with the `status` (any when
 * empty) that pass `filter`; with `top`, only the `top` best scored of
 * them, best first.
 *
 * @param {Array} trials
 * @param {{status: string, filter: (trial) => boolean, top: number|null}} choice
 * @param {string} direction - "min" or "max".
 */
export function visibleTrials(trials, { status, filter, top }, direction) {
  const shown = trials.filter((trial) => (!status || trial.status === status) && filter(trial));
  if (!top) return shown;
  return shown.filter((trial) => trial.score !== null)
    .sort((a, b) => (better(a.score, b.score, direction) ? -1 : better(b.score, a.score, direction) ? 1 : 0))
    .slice(0, top);
}

/**
 * Parses a filter text into tests on a trial: words that must all match.
 * `name=value` (or `name<value`, `name>value`) tests a hyperparameter or
 * `score`; `name=inactive` a missing one; any other word must appear in the
 * trial's id, status or values.
 */
export function parseFilter(text) {
  const tests = [];
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const match = /^([^=<>]+)(=|<|>)(.*)$/.exec(word);
    if (!match) {
      const needle = word.toLowerCase();
      tests.push((trial) => searchText(trial).includes(needle));
      continue;
    }
    const [, name, operator, expected] = match;
    tests.push((trial) => {
      const value = name === "score" ? trial.score : trial.hyperparameters[name];
      if (operator === "=") {
        if (expected.toLowerCase() === "inactive") return value === undefined;
        return value !== undefined && value !== null && String(value).toLowerCase() === expected.toLowerCase();
      }
      const number = Number(expected);
      if (typeof value !== "number" || !Number.isFinite(number)) return false;
      return operator === "<" ? value < number : value > number;
    });
  }
  return (trial) => tests.every((test) => test(trial));
}

const searchTexts = new WeakMap();
function searchText(trial) {
  let text = searchTexts.get(trial);
  if (text === undefined) {
    const values = Object.entries(trial.hyperparameters).map(([name, value]) => `${name}=${value}`);
    text = [trial.trial_id, trial.status, ...values].join(" ").toLowerCase();
    searchTexts.set(trial, text);
  }
  return text;
}

/**
 * A comparator for one column: "trial", "status", "score", "ended", or a
 * hyperparameter's name. Missing values (no score, inactive) sort last in
 * both directions.
 */
export function comparator(column, descending) {
  const sign = descending ? -1 : 1;
  if (column === "trial") return (a, b) => sign * compareIds(a, b);
  const valueOf = {
    status: (trial) => trial.status,
    score: (trial) => trial.score,
    ended: (trial) => trial.ended,
  }[column] ?? ((trial) => trial.hyperparameters[column]);
  return (a, b) => {
    const left = valueOf(a);
    const right = valueOf(b);
    const leftMissing = left === undefined || left === null;
    const rightMissing = right === undefined || right === null;
    if (leftMissing || rightMissing) return leftMissing - rightMissing || compareIds(a, b);
    if (typeof left === "number" && typeof right === "number") {
      return sign * (left - right) || compareIds(a, b);
    }
    return sign * String(left).localeCompare(String(right)) || compareIds(a, b);
  };
}
