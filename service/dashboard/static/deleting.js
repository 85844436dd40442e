// Deleting from the dashboard: a Delete button that asks in the page (no
// window.confirm) and names what goes, the questions it asks, and the notice
// that says what was freed.

import { api } from "./api.js";
import { countOf, errorBox, formatBytes, formatCount, h, shortId } from "./dom.js";

/** The question before deleting `search`: its trials and checkpoints go, its models stay. */
export function searchQuestion(search) {
  const trials = search.trials_done
    ? `its ${countOf(search.trials_done, "trial")} and their checkpoints`
    : "its record (it has no trials)";
  const models = search.model_version ? " The model versions it registered stay." : "";
  return `Delete ${trials}?${models}`;
}

/**
 * The question before deleting the model `name` with every one of its
 * versions: `versions` lists them, or is null where they are not known (the list of models).
 */
export function modelQuestion(name, versions) {
  if (!versions) return `Delete ${name} and every version of it?`;
  const which = versions.length === 1 ? `its only version (${versions[0]})`
    : `all its ${countOf(versions.length, "version")}`;
  return `Delete ${name} and ${which}?`;
}

/** The question before deleting one version of a model. */
export function versionQuestion(name, version) {
  return `Delete version ${version} of ${name} and its files?`;
}

/** The question before deleting an uploaded dataset. */
export function datasetQuestion(dataset) {
  return `Delete the uploaded ${dataset.format} data (${formatCount(dataset.rows)} rows)?`;
}

/** What a deletion freed, from the API's answer: "Deleted search ab12cd34; 3.4 MiB freed." */
export function freedNotice(what, answer) {
  const versions = answer.deleted_versions;
  const which = versions ? ` (${versions.length === 1 ? "version" : "versions"} ${versions.join(", ")})` : "";
  return `Deleted ${what}${which}; ${formatBytes(answer.freed_bytes)} freed.`;
}

/** A search as the lists name it: "iris-dash (ab12cd34)". */
export function searchLabel(search) {
  return `${search.model_name} (${shortId(search.id)})`;
}

/**
 * A Delete button that asks first, in the page: pressed, it becomes the
 * question with Yes and No; Yes sends `DELETE path`. An error of the API (a
 * 409's message) shows beside the button, which comes back to try again.
 *
 * The element keeps its state, so a list that redraws its rows may move the
 * same element into the new row; its buttons carry `data-key` for the list
 * to put the keyboard focus back.
 *
 * @param {object} options
 * @param {string} options.label - What is deleted, for the button's accessible name.
 * @param {string} options.question - The question, naming what will be freed.
 * @param {string} options.path - The API path to delete.
 * @param {(answer: object) => void} options.onDeleted - Called with the API's answer.
 * @param {AbortSignal} options.signal - The page's.
 * @param {string} [options.key] - A prefix for the buttons' `data-key`.
 * @param {string} [options.text] - The button's text.
 * @returns {Element}
 */
export function deleteButton({ label, question, path, onDeleted, signal, key = "", text = "Delete" }) {
  const start = h("button", { type: "button", className: "danger", "data-key": `${key}delete`,
    "aria-label": `Delete ${label}` }, text);
  const yes = h("button", { type: "button", className: "danger", "data-key": `${key}delete-yes`,
    "aria-label": `Yes, delete ${label}` }, "Yes");
  const no = h("button", { type: "button", className: "quiet", "data-key": `${key}delete-no` }, "No");
  const asking = h("span", { className: "confirm-ask", role: "group", "aria-label": `Delete ${label}?`, hidden: true },
    h("span", { className: "confirm-question" }, question), yes, no);
  const problem = h("div");
  const element = h("div", { className: "confirm" }, start, asking, problem);

  function show(askingNow) {
    start.hidden = askingNow;
    asking.hidden = !askingNow;
    yes.disabled = false;
    no.disabled = false;
  }

  start.addEventListener("click", () => {
    problem.replaceChildren();
    show(true);
    no.focus(); // the safe answer: a second Enter does not delete
  });
  no.addEventListener("click", () => {
    show(false);
    start.focus();
  });
  asking.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && !yes.disabled) no.click();
  });
  yes.addEventListener("click", async () => {
    yes.disabled = true;
    no.disabled = true;
    let answer;
    try {
      answer = await api(path, { method: "DELETE", signal });
    } catch (error) {
      if (error.name === "AbortError") return;
      show(false);
      problem.replaceChildren(errorBox(error.message));
      start.focus();
      return;
    }
    onDeleted(answer);
  });
  return element;
}
