// Small SVG charts, drawn without a library: a line chart (best-so-far
// history, comparisons) and parallel coordinates; their axes also frame the
// learning curves (curves.js).
//
// Each chart draws its many marks as a few <path> elements (one per colour),
// so its DOM stays the same size whether a search has ten trials or 10,000.

import { formatScore, formatValue, h, s } from "./dom.js";

// Okabe-Ito colours, told apart by readers with colour blindness; the
// comparison also varies the dash pattern.
const SERIES_COLOURS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"];
const SERIES_DASHES = ["", "6 3", "2 3", "8 3 2 3", "1 2", "10 4", "4 4"];
// Score buckets of parallel coordinates, worst (light) to best (dark).
const SCORE_COLOURS = ["#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
const MUTED_COLOUR = "#b6bec7";

export const MARGIN = { top: 12, right: 16, bottom: 40, left: 64 };

/** The height, in pixels, of a chart `width` pixels wide. */
export function chartHeight(width) {
  return Math.max(200, Math.min(320, Math.round(width * 0.45)));
}

/** The width, in pixels, a chart drawn into `holder` gets. */
export function chartWidth(holder) {
  return Math.max(280, Math.floor(holder.clientWidth || 640));
}

/** Calls `draw()` whenever the holder's width changes (the first time included). */
export function redrawOnResize(holder, draw, signal) {
  let width = 0;
  const observer = new ResizeObserver(() => {
    if (chartWidth(holder) !== width) {
      width = chartWidth(holder);
      draw();
    }
  });
  observer.observe(holder);
  signal.addEventListener("abort", () => observer.disconnect());
}

/** A pixel coordinate to a tenth of a pixel, as the charts write them into SVG paths. */
export function round(value) {
  return Math.round(value * 10) / 10;
}

/**
 * A scale from data to pixels: linear, or logarithmic when `log`. Its
 * `ticks(count)` gives the values worth a grid line.
 */
export function scale(min, max, from, to, log = false) {
  const transform = log ? Math.log10 : (value) => value;
  let low = transform(min);
  let high = transform(max);
  if (!(high > low)) {
    // One value (or none): centre it.
    low -= 1;
    high += 1;
  }
  const map = (value) => from + ((transform(value) - low) / (high - low)) * (to - from);
  map.ticks = (count) => (log ? logTicks(min, max) : niceTicks(low, high, count));
  return map;
}

/** `min` and `max` moved apart by 3 % of their span (a factor on a log axis),
 * so no mark sits on the axis line. */
export function padded(min, max, log) {
  if (log) {
    const factor = (max / min) ** 0.03;
    return [min / factor, max * factor];
  }
  const margin = (max - min) * 0.03;
  return [min - margin, max + margin];
}

/** About `count` round numbers from `min` to `max`. */
export function niceTicks(min, max, count = 5) {
  const span = max - min;
  if (!(span > 0)) return [min];
  const rough = span / count;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough);
  const ticks = [];
  for (let value = Math.ceil(min / step) * step; value <= max + step * 1e-9; value += step) {
    ticks.push(Number(value.toPrecision(12)));
  }
  return ticks;
}

/** The powers of ten from `min` to `max` (with 2 and 5 times them within two
 * decades); `min` and `max` themselves when none lies between. */
export function logTicks(min, max) {
  const ticks = [];
  const first = Math.floor(Math.log10(min));
  const last = Math.ceil(Math.log10(max));
  // Within two decades, 2 and 5 times each power are worth a line too.
  const multiples = last - first <= 2 ? [1, 2, 5] : [1];
  for (let power = first; power <= last; power++) {
    for (const multiple of multiples) {
      const value = multiple * 10 ** power;
      if (value >= min * 0.999 && value <= max * 1.001) ticks.push(Number(value.toPrecision(12)));
    }
  }
  return ticks.length ? ticks : [min, max];
}

/** The smallest and the largest value: [Infinity, -Infinity] for none. */
export function extent(values) {
  let min = Infinity;
  let max = -Infinity;
  for (const value of values) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  return [min, max];
}

/**
 * A line chart with optional dots, for the best-so-far history, for
 * comparing searches and (without a trial axis) for a Pareto front's scatter.
 *
 * @param {object} options
 * @param {string} options.title - Read by screen readers.
 * @param {string} options.description - What the chart shows, in words.
 * @param {Array<{label: string, points: Array<{x: number, y: number}>, step?: boolean, marks?: boolean}>} options.series
 *   `marks` rings each point (the members of a Pareto front).
 * @param {Array<{x: number, y: number, id: string}>} [options.dots] - Marks for single trials.
 * @param {string} [options.selected] - The id of a dot to ring.
 * @param {boolean} [options.log] - A logarithmic y axis (all values must be positive).
 * @param {boolean} [options.logX] - A logarithmic x axis (all values must be positive).
 * @param {boolean} [options.trialAxis] - x counts trials: it starts at 1 and has whole ticks
 *   (default); false spans the values, such as a metric's.
 * @param {string} options.xLabel
 * @param {string} options.yLabel
 * @param {number} options.width - Pixels.
 * @param {(dot: object|null) => void} [options.onHover] - The dot nearest the pointer.
 * @param {(dot: object) => void} [options.onPick] - A clicked dot.
 */
export function lineChart(options) {
  const { series, dots = [], width, log = false, logX = false, trialAxis = true } = options;
  const height = chartHeight(width);
  const right = width - MARGIN.right;
  const bottom = height - MARGIN.bottom;
  const allX = [...dots.map((d) => d.x), ...series.flatMap((one) => one.points.map((p) => p.x))];
  const allY = [...dots.map((d) => d.y), ...series.flatMap((one) => one.points.map((p) => p.y))];
  const [xMin, xMax] = allX.length ? extent(allX) : [0, 1];
  const [yMin, yMax] = allY.length ? extent(allY) : [0, 1];
  const x = trialAxis
    ? scale(Math.min(xMin, 1), Math.max(xMax, 2), MARGIN.left, right, logX)
    : scale(...padded(xMin, xMax, logX), MARGIN.left, right, logX);
  const y = scale(yMin, yMax, bottom, MARGIN.top, log);

  const titleId = `chart-${Math.random().toString(36).slice(2)}`;
  const svg = s("svg", {
    className: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-labelledby": `${titleId}-t ${titleId}-d`,
  },
  s("title", { id: `${titleId}-t` }, options.title),
  s("desc", { id: `${titleId}-d` }, options.description));
  svg.append(axes(x, y, { width, height, xLabel: options.xLabel, yLabel: options.yLabel, trialAxis }));

  if (dots.length) {
    const d = dots.map((dot) => `M${round(x(dot.x))} ${round(y(dot.y))}h0`).join("");
    // Many dots get smaller and see-through, so dense regions show as darker.
    const many = dots.length > 1000;
    svg.append(s("path", { className: "dots", d, "stroke-width": many ? 3 : 5, "stroke-opacity": many ? 0.45 : 0.9 }));
  }
  series.forEach((one, index) => {
    if (!one.points.length) return;
    const parts = [];
    one.points.forEach((point, i) => {
      const px = round(x(point.x));
      const py = round(y(point.y));
      if (i === 0) parts.push(`M${px} ${py}`);
      else if (one.step) parts.push(`H${px}V${py}`);
      else parts.push(`L${px} ${py}`);
    });
    if (one.step) parts.push(`H${round(x(one.points.at(-1).x))}`);
    const colour = SERIES_COLOURS[index % SERIES_COLOURS.length];
    svg.append(s("path", {
      className: "series", d: parts.join(""), stroke: colour,
      "stroke-dasharray": SERIES_DASHES[index % SERIES_DASHES.length] || undefined,
    }));
    if (one.marks) {
      for (const point of one.points) {
        svg.append(s("circle", { className: "mark", cx: round(x(point.x)), cy: round(y(point.y)), r: 4.5,
          stroke: colour }));
      }
    }
  });
  const picked = dots.find((dot) => dot.id === options.selected);
  if (picked) {
    svg.append(s("circle", { className: "picked", cx: x(picked.x), cy: y(picked.y), r: 6 }));
  }
  if (dots.length && (options.onHover || options.onPick)) {
    // Dots sorted by x, to find the nearest one by bisection; on a scatter
    // (no trial axis) the nearest in both directions.
    const byX = [...dots].sort((a, b) => a.x - b.x);
    const nearest = (event) => {
      const box = svg.getBoundingClientRect();
      const px = ((event.clientX - box.left) / box.width) * width;
      if (!trialAxis) {
        const py = ((event.clientY - box.top) / box.height) * height;
        const distance = (dot) => Math.hypot(x(dot.x) - px, y(dot.y) - py);
        return dots.reduce((best, dot) => (distance(dot) < distance(best) ? dot : best));
      }
      let low = 0;
      let high = byX.length - 1;
      while (low < high) {
        const middle = (low + high) >> 1;
        if (x(byX[middle].x) < px) low = middle + 1;
        else high = middle;
      }
      const candidates = [byX[low - 1], byX[low]].filter(Boolean);
      return candidates.sort((a, b) => Math.abs(x(a.x) - px) - Math.abs(x(b.x) - px))[0];
    };
    if (options.onHover) {
      svg.addEventListener("pointermove", (event) => options.onHover(nearest(event)));
      svg.addEventListener("pointerleave", () => options.onHover(null));
    }
    if (options.onPick) svg.addEventListener("click", (event) => options.onPick(nearest(event)));
  }
  return svg;
}

/**
 * A chart's grid, axes, ticks and labels, as an SVG group.
 *
 * @param {Function} x - The x scale (see `scale`).
 * @param {Function} y - The y scale.
 * @param {{width: number, height: number, xLabel: string, yLabel: string, trialAxis: boolean}} frame
 *     `trialAxis`: x counts (trials, epochs), so only whole ticks are drawn.
 */
export function axes(x, y, { width, height, xLabel, yLabel, trialAxis }) {
  const bottom = height - MARGIN.bottom;
  const group = s("g", { className: "axes", "aria-hidden": "true" });
  for (const tick of y.ticks(5)) {
    const py = round(y(tick));
    group.append(
      s("line", { className: "grid", x1: MARGIN.left, x2: width - MARGIN.right, y1: py, y2: py }),
      s("text", { x: MARGIN.left - 6, y: py, "text-anchor": "end", "dominant-baseline": "middle" },
        formatScore(tick)),
    );
  }
  for (const tick of x.ticks(Math.max(2, Math.floor(width / 90)))) {
    if (trialAxis && !Number.isInteger(tick)) continue;
    const px = round(x(tick));
    group.append(
      s("line", { className: "tick", x1: px, x2: px, y1: bottom, y2: bottom + 4 }),
      s("text", { x: px, y: bottom + 16, "text-anchor": "middle" }, trialAxis ? String(tick) : formatScore(tick)),
    );
  }
  group.append(
    s("line", { className: "axis", x1: MARGIN.left, x2: width - MARGIN.right, y1: bottom, y2: bottom }),
    s("line", { className: "axis", x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: bottom }),
    s("text", { className: "label", x: (MARGIN.left + width - MARGIN.right) / 2, y: height - 6,
      "text-anchor": "middle" }, xLabel),
    s("text", { className: "label", x: 12, y: (MARGIN.top + bottom) / 2, "text-anchor": "middle",
      transform: `rotate(-90 12 ${(MARGIN.top + bottom) / 2})` }, yLabel),
  );
  return group;
}

/** The legend of a line chart's series, as an HTML list. */
export function legend(labels) {
  return h("ul", { className: "legend" }, labels.map((label, index) => h("li", {},
    s("svg", { width: 28, height: 10, "aria-hidden": "true" }, s("line", {
      x1: 0, x2: 28, y1: 5, y2: 5, stroke: SERIES_COLOURS[index % SERIES_COLOURS.length],
      "stroke-width": 2.5, "stroke-dasharray": SERIES_DASHES[index % SERIES_DASHES.length] || undefined,
    })),
    label)));
}

// Parallel coordinates -------------------------------------------------------------------

// The last axis: the trials' scores.
const SCORE_AXIS = "score";
const AXIS_SPACING = 104;
const PC_MARGIN = { top: 30, right: 48, bottom: 46, left: 48 };
// Opacity levels of the segments, by how many trials share one.
const LEVELS = 6;

/**
 * Parallel coordinates: one vertical axis per hyperparameter and one for the
 * score, one line per trial. A hyperparameter that a trial does not have
 * (an inactive conditional one) sits on the "inactive" mark under its axis,
 * reached by a dashed line.
 *
 * Thousands of long overlapping lines take the browser seconds to paint, and
 * paint the plot solid. So each line is cut into its segments between two
 * neighbouring axes, the segments' ends are rounded to a few pixels (to one
 * pixel for small searches), and each distinct segment is drawn once, more
 * opaque and wider the more trials share it. A search of 10,000 trials then
 * draws a few thousand segments, and where trials agree shows as dark.
 *
 * @param {object} options
 * @param {Array<{name: string, kind: string, values: Array}>} options.axes - From `describeAxes`.
 * @param {Array<{id: string, values: object, score: number|null, bucket: number}>} options.lines -
 *     `bucket` is 0..4 by score (4 best), or -1 for a trial the filter leaves out.
 * @param {string} [options.selected] - The id of a line to draw exactly, on top.
 * @param {number} options.width - Pixels available; the chart scrolls when it needs more.
 */
export function parallelCoordinates({ axes: axisList, lines, selected, width }) {
  const needed = PC_MARGIN.left + PC_MARGIN.right + AXIS_SPACING * Math.max(1, axisList.length - 1);
  const fullWidth = Math.max(width, needed);
  const height = 340;
  const bottom = height - PC_MARGIN.bottom;
  const inactiveY = bottom + 22;
  const step = axisList.length > 1 ? (fullWidth - PC_MARGIN.left - PC_MARGIN.right) / (axisList.length - 1) : 0;
  const positions = axisList.map((axis, index) => {
    const px = PC_MARGIN.left + index * step;
    if (axis.kind === "category") {
      const count = axis.values.length;
      const at = new Map(axis.values.map((value, i) =>
        [value, count === 1 ? (PC_MARGIN.top + bottom) / 2 : bottom - (i * (bottom - PC_MARGIN.top)) / (count - 1)]));
      return { px, y: (value) => at.get(value) };
    }
    const [min, max] = extent(axis.values);
    return { px, y: scale(min, max, bottom, PC_MARGIN.top, axis.kind === "log") };
  });
  const xs = positions.map((position) => round(position.px));
  const pointsOf = (line) => axisList.map((axis, index) => {
    const value = axis.name === SCORE_AXIS ? line.score : line.values[axis.name];
    return value === undefined || value === null ? null : positions[index].y(value);
  });

  // Distinct segments: key "colour|axis|from|to" -> how many trials draw it.
  const grid = Math.min(8, Math.max(1, Math.round(lines.length / 500)));
  const snap = (py) => (py === null ? inactiveY : Math.round(py / grid) * grid);
  const shared = new Map();
  let selectedPoints = null;
  for (const line of lines) {
    const points = pointsOf(line);
    if (line.id === selected) selectedPoints = points;
    const colour = line.bucket < 0 ? "muted" : `b${line.bucket}`;
    for (let i = 1; i < points.length; i++) {
      const kind = points[i - 1] === null || points[i] === null ? `${colour}-inactive` : colour;
      const key = `${kind}|${i}|${snap(points[i - 1])}|${snap(points[i])}`;
      shared.set(key, (shared.get(key) ?? 0) + 1);
    }
  }
  let most = 1;
  for (const count of shared.values()) most = Math.max(most, count);
  // Path data by colour and level; levels grow with the log of the count.
  const paths = new Map();
  for (const [key, count] of shared) {
    const [kind, axis, from, to] = key.split("|");
    const level = most === 1 ? LEVELS - 1
      : Math.min(LEVELS - 1, Math.floor((Math.log(count) / Math.log(most)) * LEVELS));
    const pathKey = `${kind}|${level}`;
    if (!paths.has(pathKey)) paths.set(pathKey, []);
    paths.get(pathKey).push(`M${xs[axis - 1]} ${from}L${xs[axis]} ${to}`);
  }

  const svg = s("svg", {
    className: "chart parallel", width: fullWidth, height, viewBox: `0 0 ${fullWidth} ${height}`,
    role: "img", "aria-label": `Parallel coordinates of ${lines.length} trials over ${axisList.length - 1} hyperparameters and the score`,
  });
  // Left-out trials first, then the score buckets from worst to best, so the best lie on top.
  const order = ["muted", "b0", "b1", "b2", "b3", "b4"];
  const drawOrder = [...paths.keys()].sort((a, b) => {
    const [kindA, levelA] = a.split("|");
    const [kindB, levelB] = b.split("|");
    return order.indexOf(kindA.replace("-inactive", "")) - order.indexOf(kindB.replace("-inactive", ""))
      || Number(levelA) - Number(levelB);
  });
  for (const pathKey of drawOrder) {
    const [kind, level] = pathKey.split("|");
    const colour = kind.replace("-inactive", "");
    const weight = (Number(level) + 1) / LEVELS;
    svg.append(s("path", {
      className: `pc-line${kind.endsWith("-inactive") ? " pc-inactive" : ""}`,
      d: paths.get(pathKey).join(""),
      stroke: colour === "muted" ? MUTED_COLOUR : SCORE_COLOURS[Number(colour.slice(1))],
      "stroke-opacity": round((colour === "muted" ? 0.5 : 1) * (0.15 + 0.85 * weight)),
      "stroke-width": round(0.8 + 1.6 * weight),
    }));
  }
  if (selectedPoints) {
    const d = selectedPoints.map((py, i) => `${i ? "L" : "M"}${xs[i]} ${round(py ?? inactiveY)}`).join("");
    svg.append(s("path", { className: "pc-selected", d }));
  }

  axisList.forEach((axis, index) => {
    const { px, y } = positions[index];
    const group = s("g", { className: "pc-axis", "aria-hidden": "true" },
      s("line", { className: "axis", x1: px, x2: px, y1: PC_MARGIN.top, y2: bottom }),
      s("text", { className: "label", x: px, y: PC_MARGIN.top - 12, "text-anchor": "middle" }, axis.name));
    const ticks = axis.kind === "category" ? axis.values : y.ticks(4);
    for (const tick of ticks) {
      const py = round(y(tick));
      group.append(
        s("line", { className: "tick", x1: px - 3, x2: px + 3, y1: py, y2: py }),
        s("text", { className: "pc-tick", x: px + 5, y: py, "dominant-baseline": "middle" },
          String(formatValue(tick)).slice(0, 12)));
    }
    if (axis.conditional) {
      group.append(
        s("circle", { className: "pc-inactive-mark", cx: px, cy: inactiveY, r: 3 }),
        s("text", { className: "pc-tick", x: px + 5, y: inactiveY, "dominant-baseline": "middle" },
          axis.name === SCORE_AXIS ? "no score" : "inactive"));
    }
    svg.append(group);
  });
  return svg;
}

/**
 * The axes of parallel coordinates for a set of trials.
 *
 * @param {string[]} names - Hyperparameter names in display order.
 * @param {Array} trials - Trials as the API returns them.
 * @returns {Array<{name, kind, values, conditional}>} `kind` is "number", "log"
 *     (positive numbers spanning two decades or more) or "category";
 *     `conditional` says some trial lacks the value.
 */
export function describeAxes(names, trials) {
  const axisList = names.map((name) => {
    const present = [];
    for (const trial of trials) {
      if (name in trial.hyperparameters) present.push(trial.hyperparameters[name]);
    }
    const numeric = present.every((value) => typeof value === "number");
    let kind = "category";
    let values = present;
    if (numeric && new Set(present).size > 1) {
      const [min, max] = extent(present);
      kind = min > 0 && max / min >= 100 ? "log" : "number";
    } else {
      values = [...new Set(present.map((value) => (typeof value === "number" ? value : String(value))))]
        .sort((a, b) => (typeof a === "number" && typeof b === "number" ? a - b : String(a).localeCompare(String(b))));
      // Categories are looked up by the same value the trial holds.
      values = values.map((value) => present.find((p) => (typeof p === "number" ? p : String(p)) === value));
    }
    return { name, kind, values, conditional: present.length < trials.length };
  });
  const scores = trials.map((trial) => trial.score).filter((score) => score !== null);
  axisList.push({
    name: SCORE_AXIS, kind: "number", values: scores.length ? scores : [0],
    conditional: scores.length < trials.length,
  });
  return axisList;
}
