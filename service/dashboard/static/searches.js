// Searches: every search with its state, progress, best score, oracle and
// elapsed time; a state filter, cancel and delete buttons, and a choice to compare.

import { api, openapiDocument } from "./api.js";
import { deleteButton, freedNotice, searchLabel, searchQuestion } from "./deleting.js";
import {
  FINAL_STATES, announce, elapsedSeconds, errorBox, formatScore, formatSeconds, h, progress,
  shortId, stateBadge,
} from "./dom.js";

// Seconds between two looks at the list (new searches, progress, states).
const REFRESH_SECONDS = 3;

export async function render(main, _params, { signal }) {
  const document_ = await openapiDocument();
  signal.throwIfAborted(); // the document is shared, so its request is not aborted with the page
  const states = document_.components.schemas.Search.properties.state.enum;
  const chosen = new Set();
  // The rows are redrawn as other searches progress; each ended search keeps
  // its one delete control, so a question being asked survives a redraw.
  const deleteControls = new Map();
  let filter = "";
  let timer = null;

  const stateFilter = h("select", { id: "state-filter" },
    h("option", { value: "" }, "All states"),
    states.map((state) => h("option", { value: state }, state)));
  const compareButton = h("button", { type: "button", disabled: true }, "Compare chosen");
  const message = h("div");
  const body = h("tbody");
  const table = h("table", { className: "searches", "aria-labelledby": "searches-title" },
    h("thead", {}, h("tr", {}, ["Compare", "Search", "Model", "Dataset", "State", "Progress",
      "Best score", "Oracle", "Elapsed"].map((label) => h("th", { scope: "col" }, label)),
    h("th", { scope: "col" }, h("span", { className: "visually-hidden" }, "Actions")))),
    body);
  const empty = h("p", { className: "hint", hidden: true });

  main.append(
    h("div", { className: "page-head" },
      h("h1", { id: "searches-title", tabindex: "-1" }, "Searches"),
      h("a", { className: "button", href: "#/launch" }, "Launch a search")),
    h("div", { className: "toolbar" },
      h("label", { for: "state-filter" }, "State"), stateFilter, compareButton),
    message,
    h("div", { className: "table-wrap" }, table),
    empty);
  main.querySelector("h1").focus();

  stateFilter.addEventListener("change", () => {
    filter = stateFilter.value;
    refresh();
  });
  compareButton.addEventListener("click", () => {
    location.hash = `#/compare/${[...chosen].join(",")}`;
  });

  function row(search) {
    const label = searchLabel(search);
    const checkbox = h("input", {
      type: "checkbox", "data-key": `${search.id}:compare`, "aria-label": `Compare ${label}`,
      checked: chosen.has(search.id),
    });
    checkbox.addEventListener("change", () => {
      if (checkbox.checked) chosen.add(search.id);
      else chosen.delete(search.id);
      compareButton.disabled = chosen.size < 2;
    });
    const cancel = FINAL_STATES.has(search.state) || search.state === "CANCELLING" ? null
      : h("button", { type: "button", className: "danger", "data-key": `${search.id}:cancel`,
        "aria-label": `Cancel ${label}`, onclick: () => cancelSearch(search, label) }, "Cancel");
    return h("tr", { "data-search": search.id },
      h("td", {}, checkbox),
      h("td", {}, h("a", { href: `#/searches/${search.id}`, "data-key": `${search.id}:link` },
        h("code", {}, shortId(search.id)))),
      h("td", {}, search.model_name),
      h("td", {}, h("code", {}, shortId(search.dataset))),
      h("td", {}, stateBadge(search.state)),
      h("td", {}, progress(search)),
      h("td", { className: "number" }, formatScore(search.best_score),
        search.objective ? h("span", { className: "hint" }, ` ${search.objective}`) : null),
      h("td", {}, search.oracle),
      h("td", { className: "number", "data-elapsed": search.id }, formatSeconds(elapsedSeconds(search))),
      h("td", {}, cancel ?? deleteControl(search, label)));
  }

  function deleteControl(search, label) {
    if (!FINAL_STATES.has(search.state)) return null;
    if (!deleteControls.has(search.id)) {
      deleteControls.set(search.id, deleteButton({
        label: `search ${label}`, question: searchQuestion(search), path: `/v1/searches/${search.id}`,
        key: `${search.id}:`, signal,
        onDeleted: (answer) => {
          const notice = freedNotice(`search ${label}`, answer);
          message.replaceChildren(h("p", { className: "notice" }, notice));
          announce(notice);
          refresh();
        },
      }));
    }
    return deleteControls.get(search.id);
  }

  async function cancelSearch(search, label) {
    if (!confirm(`Cancel ${label}? Its running trial is stopped; completed trials are kept.`)) return;
    message.replaceChildren();
    try {
      const answer = await api(`/v1/searches/${search.id}/cancel`, { method: "POST", signal });
      announce(`Search ${label} is ${answer.state.toLowerCase()}`);
    } catch (error) {
      if (error.name !== "AbortError") message.append(errorBox(error.message));
    }
    refresh();
  }

  let shown = "";
  async function refresh() {
    clearTimeout(timer);
    let list;
    try {
      const query = filter ? `?state=${encodeURIComponent(filter)}` : "";
      list = (await api(`/v1/searches${query}`, { signal })).searches;
    } catch (error) {
      if (error.name === "AbortError") return;
      message.replaceChildren(errorBox(error.message));
      list = null;
    }
    if (signal.aborted) return;
    if (list) {
      list.reverse(); // newest first
      const fingerprint = JSON.stringify(list.map(({ elapsed_seconds: _, ...rest }) => rest));
      if (fingerprint !== shown) {
        shown = fingerprint;
        const listed = new Set(list.map((search) => search.id));
        for (const id of deleteControls.keys()) if (!listed.has(id)) deleteControls.delete(id);
        // Rebuilt rows keep the keyboard focus where it was.
        const focusKey = document.activeElement?.dataset?.key;
        body.replaceChildren(...list.map(row));
        if (focusKey) body.querySelector(`[data-key="${focusKey}"]`)?.focus();
      }
      for (const search of list) {
        const cell = body.querySelector(`[data-elapsed="${search.id}"]`);
        if (cell) cell.textContent = formatSeconds(elapsedSeconds(search));
      }
      empty.hidden = list.length > 0;
      empty.replaceChildren(filter ? `No ${filter} searches.` : "No searches yet. ",
        filter ? "" : h("a", { href: "#/launch" }, "Launch one."));
      table.hidden = list.length === 0;
    }
    timer = setTimeout(refresh, REFRESH_SECONDS * 1000);
  }
  signal.addEventListener("abort", () => clearTimeout(timer));
  await refresh();
}
