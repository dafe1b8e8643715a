// socialsync dashboard: a location's mapping and statistics schedule, for an
// admin key (GET /v1/locations/{loc}/settings, PUT .../settings/mapping and
// .../settings/stats). The gateway validates; a refusal names each field at
// fault (error.problems) and the message shows next to that field. The form
// is filled when another location is chosen, never while it is edited.
"use strict";

const settingsState = { loc: "" };

// The element of each field a problem can name; list fields (one line per
// item) take the problems of their items, told by line.
const fieldInputs = {
  contactTag: "#set-contactTag", contactFields: "#set-contactFields", customValues: "#set-customValues",
  "contacts.externalIdField": "#set-externalIdField", "reconcile.policy": "#set-policy", "reconcile.every": "#set-every",
  cron: "#set-cron", timezone: "#set-timezone", retentionDays: "#set-retentionDays",
};

async function refreshSettings() {
  if (!can("admin") || settingsState.loc === state.loc) return;
  // Claimed before the read, so that the form is filled once per choice.
  const loc = (settingsState.loc = state.loc);
  let s;
  try {
    s = await api("/v1/locations/" + loc + "/settings");
  } catch (e) {
    settingsState.loc = "";
    throw e;
  }
  if (loc !== state.loc) return;
  const m = s.mapping;
  $("#set-contactTag").value = m.contactTag || "";
  $("#set-contactFields").value = (m.contactFields || []).map((f) => f.from + " " + f.to).join("\n");
  $("#set-customValues").value = (m.customValues || []).map((v) => v.from + " " + v.name).join("\n");
  $("#set-createMissing").checked = !!(m.contacts && m.contacts.createMissing);
  $("#set-externalIdField").value = (m.contacts && m.contacts.externalIdField) || "";
  $("#set-policy").value = (m.reconcile && m.reconcile.policy) || "";
  $("#set-every").value = (m.reconcile && m.reconcile.every) || "";
  $("#set-cron").value = s.stats.cron || "";
  $("#set-timezone").value = s.stats.timezone || "";
  $("#set-timezone").placeholder = s.timezone + " (the location's)";
  $("#set-retentionDays").value = s.stats.retentionDays || "";
  $("#settings-note").textContent = s.mappingStored ? "" : "No mapping of its own yet: the defaults are shown.";
  for (const f of ["#mapping-form", "#schedule-form"]) showProblems(f, []);
  $("#mapping-saved").textContent = $("#schedule-saved").textContent = "";
  $("#settings-panel").dataset.location = loc;
}

// lines splits a textarea into [first word, the rest] pairs, one a line.
function lines(sel) {
  return $(sel).value.split("\n").map((l) => l.trim()).filter(Boolean).map((l) => {
    const i = l.search(/\s/);
    return i < 0 ? [l, ""] : [l.slice(0, i), l.slice(i).trim()];
  });
}

function mappingOfForm() {
  const m = { contactTag: $("#set-contactTag").value.trim() };
  const fields = lines("#set-contactFields").map(([from, to]) => ({ from, to }));
  const values = lines("#set-customValues").map(([from, name]) => ({ name, from }));
  if (fields.length) m.contactFields = fields;
  if (values.length) m.customValues = values;
  const ext = $("#set-externalIdField").value.trim();
  if ($("#set-createMissing").checked || ext) m.contacts = { createMissing: $("#set-createMissing").checked, externalIdField: ext };
  const policy = $("#set-policy").value, every = $("#set-every").value.trim();
  if (policy || every) m.reconcile = { policy, every };
  return m;
}

function scheduleOfForm() {
  const days = $("#set-retentionDays").value.trim();
  return { cron: $("#set-cron").value.trim(), timezone: $("#set-timezone").value.trim(), retentionDays: days === "" ? 0 : Number(days) };
}

// showProblems puts each problem's message next to its field in form; a
// problem of an item of a list field names the item's line.
function showProblems(form, problems) {
  const byField = {};
  for (const p of problems) {
    const item = /^(contactFields|customValues)\[(\d+)\]\.(\w+)$/.exec(p.field);
    const field = item ? item[1] : p.field;
    const text = item ? "line " + (Number(item[2]) + 1) + " (" + item[3] + "): " + p.message : p.message;
    (byField[field] = byField[field] || []).push(text);
  }
  for (const e of document.querySelectorAll(form + " .field-error")) {
    e.textContent = (byField[e.dataset.for] || []).join(" · ");
    const input = fieldInputs[e.dataset.for] && $(fieldInputs[e.dataset.for]);
    if (input) {
      input.classList.toggle("invalid", !!byField[e.dataset.for]);
      input.setAttribute("aria-invalid", byField[e.dataset.for] ? "true" : "false");
    }
  }
}

async function saveSetting(ev, form, path, body, saved) {
  ev.preventDefault();
  $(saved).textContent = "";
  try {
    await api("/v1/locations/" + state.loc + "/settings/" + path, { method: "PUT", body });
    showProblems(form, []);
    $(saved).textContent = "Saved " + new Date().toLocaleTimeString();
    $("#settings-note").textContent = "";
  } catch (e) {
    const problems = e.body && e.body.error && e.body.error.problems;
    if (!problems) throw e;
    showProblems(form, problems);
    $(saved).textContent = "Not saved: see the fields marked.";
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#mapping-form").addEventListener("submit", (ev) => saveSetting(ev, "#mapping-form", "mapping", mappingOfForm(), "#mapping-saved").catch(report));
  $("#schedule-form").addEventListener("submit", (ev) => saveSetting(ev, "#schedule-form", "stats", scheduleOfForm(), "#schedule-saved").catch(report));
  $("#signout").addEventListener("click", () => { settingsState.loc = ""; });
});
