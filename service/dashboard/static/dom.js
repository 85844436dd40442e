// Building DOM from elements and text nodes (every text from the API stays text) and
// formatting numbers, times and states the same way on every page.

const SVG_NS = "http://www.w3.org/2000/svg";

function build(element, attributes, children) {
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(element.dataset, value);
    } else if (name === "className") {
      element.setAttribute("class", value);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** An HTML element: h("button", {type: "button", onclick}, "Cancel"). */
export function h(tag, attributes, ...children) {
  return build(document.createElement(tag), attributes, children);
}

/** An SVG element, the same way. */
export function s(tag, attributes, ...children) {
  return build(document.createElementNS(SVG_NS, tag), attributes, children);
}

const integerFormat = new Intl.NumberFormat("en-US");

export function formatCount(value) {
  return integerFormat.format(value);
}

/** A count and its noun: "1 trial", "10,000 trials" (the plural adds an "s"). */
export function countOf(count, noun) {
  return `${formatCount(count)} ${noun}${count === 1 ? "" : "s"}`;
}

const BYTE_UNITS = ["KiB", "MiB", "GiB", "TiB"];

/** A size in bytes as people read it, in the units of 1,024 that the README uses: "3.4 MiB". */
export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined) return "—";
  if (Math.abs(bytes) < 1024) return countOf(bytes, "byte");
  let value = bytes;
  let unit = -1;
  do {
    value /= 1024;
    unit += 1;
  } while (Math.abs(value) >= 1023.5 && unit < BYTE_UNITS.length - 1);
  // Three significant digits, without a trailing ".0", whole from 100 on: 1.5 KiB, 12.3 MiB, 1,023 KiB.
  const shown = Math.abs(value) >= 100 ? formatCount(Math.round(value)) : Number(value.toPrecision(3));
  return `${shown} ${BYTE_UNITS[unit]}`;
}

/** A score with four significant digits; "—" when there is none. */
export function formatScore(value) {
  if (value === null || value === undefined) return "—";
  if (value !== 0 && (Math.abs(value) >= 1e5 || Math.abs(value) < 1e-3)) {
    return value.toExponential(3).replace(/\.?0+e/, "e");
  }
  return Number(value.toPrecision(4)).toString();
}

/** A hyperparameter value as a short text. */
export function formatValue(value) {
  if (value === undefined) return "inactive";
  if (typeof value === "number") return formatScore(value);
  return String(value);
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const whole = Math.max(0, Math.round(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const rest = whole % 60;
  if (hours) return `${hours} h ${String(minutes).padStart(2, "0")} min`;
  if (minutes) return `${minutes} min ${String(rest).padStart(2, "0")} s`;
  return `${rest} s`;
}

/** Seconds a search has run: to its end, or to now while it runs. */
export function elapsedSeconds(search) {
  if (!search.started) return null;
  const end = search.finished ? Date.parse(search.finished) : Date.now();
  return (end - Date.parse(search.started)) / 1000;
}

export const FINAL_STATES = new Set(["CANCELLED", "SUCCEEDED", "FAILED"]);

export function stateBadge(state) {
  return h("span", { className: `badge state-${state.toLowerCase()}` }, state);
}

export function progress(search) {
  const label = `${search.trials_done} of ${search.max_trials} trials`;
  return h("span", { className: "progress" },
    h("progress", { max: search.max_trials, value: search.trials_done, "aria-label": label }),
    h("span", { className: "progress-text" }, `${search.trials_done}/${search.max_trials}`));
}

export function shortId(id) {
  return id.length > 10 ? id.slice(0, 8) : id;
}

/** Tells screen readers what changed, in the page's polite live region. */
export function announce(message) {
  const region = document.getElementById("status");
  region.textContent = "";
  // A new text node after clearing makes the same message be read again.
  requestAnimationFrame(() => { region.textContent = message; });
}

/** An error box that screen readers read at once. */
export function errorBox(message) {
  return h("p", { className: "error", role: "alert" }, message);
}
