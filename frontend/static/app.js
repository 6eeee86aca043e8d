// litellm-updater UI enhancements. Every page works without this file; with it, tables sort on
// a header click, times show in local time, and action buttons show their job's progress in place.
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

// Times: stored in UTC, shown in the browser's local time (UTC stays in the tooltip).
document.querySelectorAll("time[datetime]").forEach((el) => {
  const when = new Date(el.getAttribute("datetime"));
  if (Number.isNaN(when.getTime())) return;
  el.title = el.textContent;
  // Swedish formatting is ISO-like (2025-01-31 13:45:00), in the browser's own time zone.
  el.textContent = when.toLocaleString("sv-SE");
});

// Confirmation for destructive buttons (the server still requires nothing more for these).
document.addEventListener("click", (e) => {
  const button = e.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) e.preventDefault();
});

// "Select all" for the LiteLLM entries litellm-updater owns.
document.querySelectorAll("input[data-check-all]").forEach((all) => {
  all.addEventListener("change", () => {
    all.closest("table").querySelectorAll("tbody input[type=checkbox]").forEach((box) => {
      box.checked = all.checked;
    });
  });
});

// Jobs in place: a form marked `data-job` (or a button marked so) is posted with fetch; the
// server redirects to /jobs/<id>, and /api/jobs/<id> is polled until the job ends.
function summarize(job) {
  const r = job.result || {};
  const parts = [];
  (r.providers || []).forEach((p) => {
    if (p.error) parts.push(p.provider + ": " + p.error);
    else if (p.fetch) parts.push(p.provider + ": " + p.fetch.seen + " seen, " + p.fetch.added + " added, " + p.fetch.orphaned + " orphaned");
  });
  const push = r.push || (r.plan ? r : null);
  if (push && push.dry_run) parts.push((push.plan.operations || []).length + " planned operations");
  else if (push) parts.push("LiteLLM: " + push.created + " created, " + push.updated + " updated, " + push.deleted + " deleted");
  if (r.ok && r.models !== undefined) parts.push("connection ok, " + r.models + " models");
  if (r.deleted !== undefined && r.results) parts.push(r.deleted + " deleted");
  return parts.join("; ");
}

function statusNode(form) {
  let node = form.nextElementSibling;
  if (!node || !node.classList.contains("jobstatus")) {
    node = document.createElement("span");
    node.className = "jobstatus";
    node.setAttribute("role", "status");
    form.after(node);
  }
  return node;
}

function show(node, state, text, id) {
  node.className = "jobstatus " + state;
  node.textContent = text + " ";
  const link = document.createElement("a");
  link.href = "/jobs/" + id;
  link.textContent = "job #" + id;
  node.appendChild(link);
}

function poll(id, node, done) {
  fetch("/api/jobs/" + id, { headers: { Accept: "application/json" }, credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : Promise.reject(response.status)))
    .then((job) => {
      if (job.status === "done") {
        show(node, "done", "done" + (summarize(job) ? ": " + summarize(job) : "") + ".", id);
        done();
      } else if (job.status === "failed") {
        show(node, "failed", "failed: " + (job.error || "see the job"), id);
        done();
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

document.addEventListener("submit", (e) => {
  const form = e.target;
  const button = e.submitter;
  const marked = form.hasAttribute("data-job") || (button && button.hasAttribute("data-job"));
  if (!marked || form.dataset.native === "1" || e.defaultPrevented) return;
  e.preventDefault();
  const action = button && button.hasAttribute("formaction") ? button.formAction : form.action;
  const body = new URLSearchParams(new FormData(form, button));
  const node = statusNode(form);
  if (button) button.disabled = true;
  node.className = "jobstatus running";
  node.textContent = "starting…";
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
        if (button) button.disabled = false;
      });
    })
    .catch(() => {
      node.textContent = "could not reach the server";
      if (button) button.disabled = false;
    });
});
