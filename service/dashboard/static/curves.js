// Learning curves: every trial's metric, epoch by epoch, in one chart.
//
// A search of 1,000 trials of 50 epochs has 50,000 segments, which SVG paints
// for seconds (see the parallel coordinates in charts.js). So the curves of
// ended trials are drawn on a <canvas>, one path and one stroke per style,
// and the few curves that matter (the chosen trial, the running ones, the
// one picked) lie above it in SVG with the axes, as the other charts draw
// them, where their labels stay text.

import { MARGIN, axes, chartHeight, extent, padded, round, scale } from "./charts.js";
import { s } from "./dom.js";

// Okabe-Ito colours, as the other charts use them.
const DONE_COLOUR = "#0072B2";
const STOPPED_COLOUR = "#6e7781";
const STOPPED_DASH = [4, 3];
const STOP_MARK_COLOUR = "#24292f";
// A stopped trial's mark at the epoch it was stopped after: an "x" this many pixels across.
const STOP_MARK = 7;

/**
 * The learning curves of one metric.
 *
 * @param {object} options
 * @param {string} options.title - Read by screen readers.
 * @param {string} options.description - What the chart shows, in words.
 * @param {Array<{id: string, kind: string, points: Array<{x: number, y: number}>,
 *     epochsDone: number, stoppedEpoch: number|null}>} options.curves - From `learningCurves`
 *     (epochs.js): `kind` is "done", "stopped", "running" or "chosen".
 * @param {number} [options.epochs] - The epochs each trial is to train: the x axis spans them.
 * @param {string} [options.selected] - The id of a curve to draw on top.
 * @param {string} options.yLabel
 * @param {number} options.width - Pixels.
 * @param {(curve: object, point: {x: number, y: number}) => string} options.runningLabel - The
 *     words at the end of a running trial's curve ("epoch 3/20").
 * @param {(hit: {id: string, x: number, y: number}|null) => void} [options.onHover] - The point
 *     nearest the pointer.
 * @param {(hit: {id: string, x: number, y: number}) => void} [options.onPick] - A clicked point.
 * @returns {Element}
 */
export function curvesChart(options) {
  const { curves, width, epochs = 1 } = options;
  const height = chartHeight(width);
  const right = width - MARGIN.right;
  const bottom = height - MARGIN.bottom;
  const ys = [];
  let lastEpoch = 1;
  for (const curve of curves) {
    for (const point of curve.points) ys.push(point.y);
    lastEpoch = Math.max(lastEpoch, curve.points.at(-1).x);
  }
  const [yMin, yMax] = ys.length ? extent(ys) : [0, 1];
  const x = scale(1, Math.max(2, epochs, lastEpoch), MARGIN.left, right);
  const y = scale(...padded(yMin, yMax, false), bottom, MARGIN.top);

  const canvas = paintCurves(curves, x, y, width, height);
  const titleId = `chart-${Math.random().toString(36).slice(2)}`;
  const svg = s("svg", {
    className: "chart curves-overlay", width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-labelledby": `${titleId}-t ${titleId}-d`,
  },
  s("title", { id: `${titleId}-t` }, options.title),
  s("desc", { id: `${titleId}-d` }, options.description),
  axes(x, y, { width, height, xLabel: "epoch", yLabel: options.yLabel, trialAxis: true }));

  const pathOf = (points) => points.map((point, i) => `${i ? "L" : "M"}${round(x(point.x))} ${round(y(point.y))}`).join("");
  for (const curve of curves) {
    if (curve.kind === "chosen" || curve.kind === "running") {
      svg.append(s("path", { className: `curve curve-${curve.kind}`, d: pathOf(curve.points), "data-trial": curve.id }));
    }
    if (curve.kind === "running") {
      const end = curve.points.at(-1);
      svg.append(s("text", {
        className: "curve-label", x: round(x(end.x)) + 5, y: round(y(end.y)), "dominant-baseline": "middle",
        "data-trial": curve.id,
      }, options.runningLabel(curve, end)));
    }
  }
  const picked = curves.find((curve) => curve.id === options.selected);
  if (picked) svg.append(s("path", { className: "curve curve-selected", d: pathOf(picked.points) }));
  if (options.onHover || options.onPick) listen(svg, curves, x, y, width, options);

  const element = document.createElement("div");
  element.className = "curves-chart";
  Object.assign(element.dataset, {
    curves: String(curves.length),
    stopped: String(curves.filter((curve) => curve.stoppedEpoch !== null).length),
    running: String(curves.filter((curve) => curve.kind === "running").length),
  });
  element.append(canvas, svg);
  return element;
}

/**
 * The curves of ended trials on a canvas of the chart's size (sharp on a
 * high-density screen): the finished ones solid, see-through when many, the
 * stopped ones dashed in grey with an "x" at their last epoch.
 */
function paintCurves(curves, x, y, width, height) {
  const canvas = document.createElement("canvas");
  const ratio = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * ratio);
  canvas.height = Math.round(height * ratio);
  // Set through the CSSOM: the page's policy refuses style attributes.
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  canvas.setAttribute("aria-hidden", "true");
  const context = canvas.getContext("2d");
  context.scale(ratio, ratio);
  context.lineJoin = "round";
  const trace = (kind) => {
    const chosen = curves.filter((curve) => curve.kind === kind);
    context.beginPath();
    for (const curve of chosen) {
      curve.points.forEach((point, i) => {
        if (i) context.lineTo(x(point.x), y(point.y));
        else context.moveTo(x(point.x), y(point.y));
      });
    }
    return chosen;
  };
  const done = trace("done");
  // Many curves get thinner and see-through, so where most trials went shows darker.
  context.globalAlpha = Math.min(0.85, Math.max(0.12, 12 / Math.sqrt(done.length || 1)));
  context.lineWidth = done.length > 200 ? 1 : 1.5;
  context.strokeStyle = DONE_COLOUR;
  context.stroke();

  const stopped = trace("stopped");
  context.globalAlpha = Math.min(0.9, Math.max(0.3, 12 / Math.sqrt(stopped.length || 1)));
  context.lineWidth = 1.2;
  context.strokeStyle = STOPPED_COLOUR;
  context.setLineDash(STOPPED_DASH);
  context.stroke();
  context.setLineDash([]);
  context.beginPath();
  const half = STOP_MARK / 2;
  for (const curve of curves) {
    if (curve.stoppedEpoch === null) continue;
    const end = curve.points.at(-1);
    const px = x(end.x);
    const py = y(end.y);
    context.moveTo(px - half, py - half);
    context.lineTo(px + half, py + half);
    context.moveTo(px - half, py + half);
    context.lineTo(px + half, py - half);
  }
  context.globalAlpha = 0.9;
  context.lineWidth = 1.5;
  context.strokeStyle = STOP_MARK_COLOUR;
  context.stroke();
  return canvas;
}

/** Hover and click: the point of any curve nearest the pointer, within 24 pixels. */
function listen(svg, curves, x, y, width, { onHover, onPick }) {
  const nearest = (event) => {
    const box = svg.getBoundingClientRect();
    const scaleBy = width / box.width;
    const px = (event.clientX - box.left) * scaleBy;
    const py = (event.clientY - box.top) * scaleBy;
    let best = null;
    let bestDistance = 24 * 24;
    for (const curve of curves) {
      for (const point of curve.points) {
        const distance = (x(point.x) - px) ** 2 + (y(point.y) - py) ** 2;
        if (distance < bestDistance) {
          bestDistance = distance;
          best = { id: curve.id, x: point.x, y: point.y };
        }
      }
    }
    return best;
  };
  if (onHover) {
    svg.addEventListener("pointermove", (event) => onHover(nearest(event)));
    svg.addEventListener("pointerleave", () => onHover(null));
  }
  if (onPick) {
    svg.addEventListener("click", (event) => {
      const hit = nearest(event);
      if (hit) onPick(hit);
    });
  }
}
