// litellm-updater UI enhancements. Every page works without this file; with it, tables sort on
// a header click (lists that page sort on the server: their headers are links), and action
// buttons show their job's progress and result in place.
"use strict";

// Sortable tables: click a header to sort by that column (numbers as numbers, `data-sort` wins).
function cellKey(row, index) {
  const cell = row.cells[index];
  if (!cell) return "";
  const raw = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
  const number = Number(raw.replace(/,/g, ""));
  return raw !== "" && !Number.isNaN(number) ? number : raw.toLowerCase();
}

function sortTable(table, th) {
  const index = Array.prototype.indexOf.call(th.parentNode.cells, th);
  const ascending = th.getAttribute("aria-sort") !== "ascending";
  table.querySelectorAll("th[aria-sort]").forEach((h) => h.removeAttribute("aria-sort"));
  th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  const body = table.tBodies[0];
  const rows = Array.from(body.rows).filter((r) => !r.querySelector("td.empty"));
  rows.sort((a, b) => {
    const x = cellKey(a, index);
    const y = cellKey(b, index);
    const order = typeof x === typeof y ? (x < y ? -1 : x > y ? 1 : 0) : typeof x === "number" ? -1 : 1;
    return ascending ? order : -order;
  });
  rows.forEach((r) => body.appendChild(r));
}

document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("thead th:not([data-nosort])").forEach((th) => {
    th.tabIndex = 0;
    th.title = "Sort by this column";
    th.addEventListener("click", () => sortTable(table, th));
    th.addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        sortTable(table, th);
      }
    });
  });
});

// Times are shown as the server writes them, in UTC with the zone named (`2026-12-02 04:30:12
// UTC`): one convention on every page, whatever the browser's own time zone.

// Confirmation for destructive buttons (the server still requires nothing more for these).
document.addEventListener("click", (e) => {
  const button = e.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) e.preventDefault();
});

// The LiteLLM page's selection: "select all" on the page, and the sticky bar's live count.
function updateSelection(form) {
  const button = form.querySelector("[data-delete-selected]");
  if (!button) return;
  const count = form.querySelectorAll("input[name=ids]:checked").length;
  button.textContent = "Delete " + count + " selected";
  button.disabled = count === 0;
  // In the words of the provider confirms: how many entries the step removes.
  const word = count === 1 ? "entry" : "entries";
  button.dataset.confirm = "Delete " + count + " selected " + word + "? This removes " + count + " " + word + " from LiteLLM.";
  const hint = form.querySelector("[data-selection-hint]");
  if (hint) hint.hidden = count > 0;
}

document.addEventListener("change", (e) => {
  const box = e.target;
  if (!(box instanceof HTMLInputElement) || box.type !== "checkbox") return;
  if (box.hasAttribute("data-check-all")) {
    box.closest("table").querySelectorAll("tbody input[name=ids]").forEach((other) => {
      other.checked = box.checked;
    });
  }
  const form = box.closest("form[data-selection]");
  if (form) updateSelection(form);
});
document.querySelectorAll("form[data-selection]").forEach(updateSelection);

// Jobs in place: a form marked `data-job` (or a button marked so) is posted with fetch; the
// server redirects to /jobs/<id>, and /api/jobs/<id> is polled until the job ends. Progress
// shows next to the clicked button; the result comes from the job page's own summary (one
// summary, written by the server), and then the page's `data-refresh` regions are re-read.
function toasts() {
  let box = document.getElementById("job-toasts");
  if (!box) {
    box = document.createElement("div");
    box.id = "job-toasts";
    box.setAttribute("aria-live", "polite");
    document.body.appendChild(box);
  }
  return box;
}

function statusNode(form, button) {
  const anchor = button || form.lastElementChild || form;
  let node = anchor.nextElementSibling;
  if (!node || !node.classList.contains("jobstatus")) {
    node = document.createElement("span");
    node.setAttribute("role", "status");
    anchor.after(node);
  }
  node.className = "jobstatus";
  return node;
}

function show(node, state, text, id) {
  node.className = "jobstatus " + state + (node.closest("#job-toasts") ? " toast" : "");
  node.textContent = text + " ";
  if (id) {
    const link = document.createElement("a");
    link.href = "/jobs/" + id;
    link.textContent = "job #" + id;
    node.appendChild(link);
  }
}

// The outcome as the job page states it: its badge (`ok`, `warn`, `bad`) and summary lines.
function outcome(id) {
  return fetch("/jobs/" + id, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
    .then((html) => {
      const page = new DOMParser().parseFromString(html, "text/html");
      const badge = page.querySelector("[data-job-outcome] .badge");
      const lines = Array.from(page.querySelectorAll("ul.summary li")).map((li) => li.textContent.trim());
      const error = page.querySelector("p.error");
      return {
        state: badge ? badge.classList[1] : "",
        label: badge ? badge.textContent.trim() : "",
        lines: lines,
        error: error ? error.textContent.trim() : "",
      };
    });
}

// Re-reads the current page and swaps in its `data-refresh` regions (rows, counters, the top
// bar's last sync), so that what the job changed shows without a reload.
function refresh() {
  const regions = document.querySelectorAll("[data-refresh]");
  if (regions.length === 0) return Promise.resolve();
  return fetch(window.location.href, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.text() : Promise.reject(response.status)))
    .then((html) => {
      const page = new DOMParser().parseFromString(html, "text/html");
      regions.forEach((region) => {
        const fresh = page.querySelector('[data-refresh="' + region.dataset.refresh + '"]');
        if (fresh) region.innerHTML = fresh.innerHTML;
      });
      document.querySelectorAll("form[data-selection]").forEach(updateSelection);
    })
    .catch(() => {});
}

function finish(id, node, done) {
  // A status inside a region about to be re-read would vanish with it: it moves to the toasts.
  if (node.closest("[data-refresh]")) {
    toasts().appendChild(node);
  }
  outcome(id)
    .then((o) => {
      const state = o.state === "ok" ? "done" : o.state === "warn" ? "warning" : "failed";
      const detail = o.error || o.lines.join("; ");
      show(node, state, o.label + (detail ? ": " + detail : "") + ".", id);
    })
    .catch(() => show(node, "", "finished:", id))
    .then(refresh)
    .then(done);
}

function poll(id, node, done) {
  fetch("/api/jobs/" + id, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
    .then((job) => {
      if (job.status === "done" || job.status === "failed") {
        finish(id, node, done);
      } else {
        const text = job.status === "queued" ? "queued, waiting for the worker…" : "running" + (job.progress ? ": " + job.progress : "…");
        show(node, "running", text, id);
        setTimeout(() => poll(id, node, done), 700);
      }
    })
    .catch(() => {
      show(node, "", "started:", id);
      done();
    });
}

document.addEventListener("click", (e) => {
  const toast = e.target.closest("#job-toasts .jobstatus");
  if (toast && !e.target.closest("a")) toast.remove();
});

document.addEventListener("submit", (e) => {
  const form = e.target;
  const button = e.submitter;
  const marked = form.hasAttribute("data-job") || (button && button.hasAttribute("data-job"));
  if (!marked || form.dataset.native === "1" || e.defaultPrevented) return;
  e.preventDefault();
  const action = button && button.hasAttribute("formaction") ? button.formAction : form.action;
  const body = new URLSearchParams(new FormData(form, button));
  const node = statusNode(form, button);
  if (button) button.disabled = true;
  show(node, "running", "starting…");
  fetch(action, { method: "POST", body: body, credentials: "same-origin" })
    .then((response) => {
      const match = /\/jobs\/(\d+)$/.exec(new URL(response.url).pathname);
      if (!match) {
        // Not a job (a refused form, nothing selected): let the browser show the answer.
        form.dataset.native = "1";
        if (button) button.disabled = false;
        form.requestSubmit(button);
        return;
      }
      poll(match[1], node, () => {
        if (button && button.isConnected) button.disabled = false;
        document.querySelectorAll("form[data-selection]").forEach(updateSelection);
      });
    })
    .catch(() => {
      show(node, "failed", "could not reach the server");
      if (button) button.disabled = false;
    });
});
