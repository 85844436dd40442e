// The trials panel of a search's page: the filter, status and best-only
// choices, the count of trials shown, and the trial table.

import { formatCount, h } from "./dom.js";
import { statusText } from "./epochs.js";
import { TrialTable } from "./table.js";
import { parseFilter } from "./trials.js";

// Typing in the filter waits this long for the next key before filtering.
const FILTER_DELAY_MS = 150;

/**
 * The trial table with its choices, which set the page's `filter`, `status`
 * and `topCount` and have the page filter its trials again.
 *
 * @param {object} page - The search's page (see search.js).
 * @returns {{element: Element, update: () => void, select: () => void}}
 */
export function trialsPanel(page) {
  const filterInput = h("input", { id: "trial-filter", type: "search", "aria-describedby": "trial-filter-help" });
  const statusSelect = h("select", { id: "trial-status" }, h("option", { value: "" }, "All"));
  const topInput = h("input", { id: "trial-top", type: "number", min: "1", step: "1", inputmode: "numeric" });
  const count = h("p", { id: "trial-count", className: "count", "aria-live": "polite" });
  const table = new TrialTable({
    onSelect: (trialId) => page.select(trialId),
    statusText: (trial) => statusText(trial, page.search?.epochs),
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
  listen(page, { filterInput, statusSelect, topInput });

  function update() {
    updateStatuses(statusSelect, page);
    count.textContent = page.shownTrials.length === page.trials.length
      ? `${formatCount(page.trials.length)} trials`
      : `Showing ${formatCount(page.shownTrials.length)} of ${formatCount(page.trials.length)} trials`;
    table.update(page.shownTrials, page.names);
  }
  return { element, update, select: () => table.select(page.selected) };
}

/** Sets the page's choices from the inputs as they change, and filters its trials again. */
function listen(page, { filterInput, statusSelect, topInput }) {
  let debounce = null;
  filterInput.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      page.filter = parseFilter(filterInput.value);
      page.refilter();
    }, FILTER_DELAY_MS);
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
}

/** The status choices: "All" and each status the trials have, rebuilt only when these change. */
function updateStatuses(statusSelect, page) {
  const statuses = [...new Set(page.trials.map((trial) => trial.status))].sort();
  const current = [...statusSelect.options].slice(1).map((option) => option.value);
  if (statuses.join() !== current.join()) {
    statusSelect.replaceChildren(h("option", { value: "" }, "All"),
      ...statuses.map((status) => h("option", { value: status, selected: status === page.status }, status)));
  }
}
