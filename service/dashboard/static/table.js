// The trial table: a real <table>, virtualised. Only the rows in view (and a
// few around them) are in the DOM; two spacer rows stand for the others, so
// 10,000 trials scroll as fast as ten. Column headers sort; a row's button
// opens the trial's details.

import { formatScore, formatValue, h } from "./dom.js";
import { comparator } from "./trials.js";

const OVERSCAN = 8;
const FALLBACK_ROW_HEIGHT = 33;

/**
 * @param {object} options
 * @param {(trialId: string) => void} options.onSelect - A trial chosen for details.
 * @param {(count: number) => void} [options.onRender] - Called after each render with the DOM rows drawn.
 * @param {(trial: object) => string} [options.statusText] - A trial's status in words
 *     ("STOPPED at epoch 3 of 20"); its `status` without.
 */
export class TrialTable {
  constructor({ onSelect, onRender, statusText }) {
    this.onSelect = onSelect;
    this.onRender = onRender ?? (() => {});
    this.statusText = statusText ?? ((trial) => trial.status);
    this.rows = [];
    this.columns = [];
    this.sortColumn = "trial";
    this.descending = false;
    this.selected = null;
    this.rowHeight = null;
    this.frame = null;

    this.head = h("thead");
    this.body = h("tbody");
    this.table = h("table", { className: "trials" }, this.head, this.body);
    this.element = h("div", {
      className: "table-scroll", tabindex: "0", role: "region", "aria-label": "Trials table; scrolls",
    }, this.table);
    this.element.addEventListener("scroll", () => this.schedule());
    this.body.addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-trial]");
      if (row) this.onSelect(row.dataset.trial);
    });
  }

  /**
   * Shows `trials` (already filtered) with a column per hyperparameter name.
   *
   * @param {Array} trials
   * @param {string[]} names - Hyperparameter names, in display order.
   */
  update(trials, names) {
    const columns = ["trial", "status", "score", ...names];
    if (columns.join("\n") !== this.columns.join("\n")) {
      this.columns = columns;
      this.renderHead();
    }
    this.rows = [...trials].sort(comparator(this.sortColumn, this.descending));
    this.table.setAttribute("aria-rowcount", this.rows.length + 1);
    this.render();
  }

  sortBy(column) {
    this.descending = this.sortColumn === column ? !this.descending : column === "score";
    this.sortColumn = column;
    this.renderHead();
    // The header was rebuilt: the keyboard focus goes back to the button just used.
    [...this.head.querySelectorAll("button")].find((button) => button.dataset.column === column)?.focus();
    this.rows.sort(comparator(this.sortColumn, this.descending));
    this.element.scrollTop = 0;
    this.render();
  }

  select(trialId) {
    this.selected = trialId;
    this.render();
  }

  renderHead() {
    const labels = { trial: "Trial", status: "Status", score: "Score" };
    const cells = this.columns.map((column) => {
      const sorted = column === this.sortColumn;
      return h("th", {
        scope: "col", className: labels[column] ? `col-${column}` : "col-hp",
        "aria-sort": sorted ? (this.descending ? "descending" : "ascending") : "none",
      }, h("button", { type: "button", className: "sort", "data-column": column, onclick: () => this.sortBy(column) },
        labels[column] ?? column,
        h("span", { className: "sort-mark", "aria-hidden": "true" },
          sorted ? (this.descending ? " ▼" : " ▲") : "")));
    });
    this.head.replaceChildren(h("tr", { "aria-rowindex": 1 }, cells));
  }

  schedule() {
    if (this.frame === null) {
      this.frame = requestAnimationFrame(() => {
        this.frame = null;
        this.render();
      });
    }
  }

  rowElement(trial, index) {
    const cells = this.columns.map((column) => {
      if (column === "trial") {
        return h("td", {}, h("button", { type: "button", className: "link",
          "aria-label": `Details of trial ${trial.trial_id}` }, trial.trial_id));
      }
      if (column === "status") return h("td", {}, this.statusText(trial));
      if (column === "score") return h("td", { className: "number" }, formatScore(trial.score));
      const value = trial.hyperparameters[column];
      if (value === undefined) return h("td", { className: "inactive", title: "inactive" }, "—");
      return h("td", { className: typeof value === "number" ? "number" : undefined }, formatValue(value));
    });
    return h("tr", {
      "data-trial": trial.trial_id, "aria-rowindex": index + 2,
      "aria-selected": trial.trial_id === this.selected ? "true" : undefined,
    }, cells);
  }

  render() {
    const total = this.rows.length;
    const rowHeight = this.rowHeight ?? FALLBACK_ROW_HEIGHT;
    const visible = Math.ceil((this.element.clientHeight || 480) / rowHeight);
    const first = Math.max(0, Math.floor(this.element.scrollTop / rowHeight) - OVERSCAN);
    const last = Math.min(total, first + visible + 2 * OVERSCAN);
    const spacer = (rowCount) => {
      const cell = h("td", { colspan: this.columns.length });
      // Set through the CSSOM: the page's policy refuses style attributes.
      cell.style.height = `${rowCount * rowHeight}px`;
      return h("tr", { className: "spacer", "aria-hidden": "true" }, cell);
    };
    const before = spacer(first);
    const after = spacer(total - last);
    const rows = [];
    for (let index = first; index < last; index++) rows.push(this.rowElement(this.rows[index], index));
    // Rows are rebuilt: the keyboard focus follows its trial to the new row, if drawn.
    const focused = this.body.contains(document.activeElement)
      ? document.activeElement.closest("tr[data-trial]")?.dataset.trial : null;
    this.body.replaceChildren(before, ...rows, after);
    if (focused) rows.find((row) => row.dataset.trial === focused)?.querySelector("button")?.focus();
    if (this.rowHeight === null && rows.length && rows[0].offsetHeight) {
      // Measured once: rows have one line each, so all share this height.
      this.rowHeight = rows[0].offsetHeight;
      if (this.rowHeight !== rowHeight) this.render();
      return;
    }
    this.onRender(rows.length);
  }
}
