// A search's heading (its id and state, with the cancel or delete button) and its
// summary: state, progress, best score, what it searches and for how long.

import {
  FINAL_STATES, elapsedSeconds, formatScore, formatSeconds, h, progress, shortId, stateBadge,
} from "./dom.js";
import { whichIsBetter } from "./trials.js";

/**
 * The heading and the summary of a search's page. They stay the same
 * elements while the search changes, so the keyboard focus stays on the
 * heading or the cancel button.
 *
 * @param {object} options
 * @param {() => void} options.onCancel - The cancel button was pressed.
 * @param {(search: object) => Element} options.deleteControl - Builds the delete button, once the
 *     search has ended.
 * @returns {{head: Element, element: Element, update: (search: object) => void, tick: () => void,
 *     focus: () => void}} `head` (the heading) goes above the page's alerts and `element` (the
 *     summary) below them; `tick` brings the elapsed time up to date.
 */
export function searchSummary({ onCancel, deleteControl }) {
  const title = h("h1", { tabindex: "-1" });
  const cancelButton = h("button", { type: "button", className: "danger", onclick: onCancel }, "Cancel search");
  const deleteSlot = h("div");
  const head = h("div", { className: "page-head" }, title, cancelButton, deleteSlot);
  const element = h("dl", { className: "summary" });
  let shown = null;
  let elapsed = null;

  function update(search) {
    shown = search;
    title.replaceChildren(`Search ${shortId(search.id)} `, stateBadge(search.state));
    cancelButton.hidden = FINAL_STATES.has(search.state) || search.state === "CANCELLING";
    if (FINAL_STATES.has(search.state) && !deleteSlot.hasChildNodes()) {
      deleteSlot.append(deleteControl(search));
    }
    elapsed = h("span", { id: "elapsed" }, formatSeconds(elapsedSeconds(search)));
    element.replaceChildren(...summaryRows(search, elapsed).flatMap(([term, value]) =>
      [h("dt", {}, term), h("dd", { "data-field": term.toLowerCase().replace(" ", "-") }, value)]));
  }

  function tick() {
    if (shown) elapsed.textContent = formatSeconds(elapsedSeconds(shown));
  }

  return { head, element, update, tick, focus: () => title.focus() };
}

/** The summary's terms and their values, the elapsed time as `elapsed` shows it. */
function summaryRows(search, elapsed) {
  const rows = [
    ["State", search.state],
    ["Progress", progress(search)],
    ["Best score", bestScore(search)],
    ["Oracle", search.oracle],
    ["Hypermodel", search.hypermodel],
    ["Dataset", search.dataset],
    ["Elapsed", elapsed],
    ["Model", search.model_version
      ? h("a", { href: `#/models/${search.model_name}` }, `${search.model_name} version ${search.model_version}`)
      : search.model_name],
  ];
  if (search.error) rows.push(["Error", search.error]);
  return rows;
}

/** The best score with its objective, direction and trial; "—" before the first score. */
function bestScore(search) {
  if (search.best_score === null) return "—";
  return `${formatScore(search.best_score)} (${search.objective}, ${whichIsBetter(search.direction)}; trial ${search.best_trial})`;
}
