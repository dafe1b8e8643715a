// socialsync dashboard: setup and test console. For an admin key: the chosen
// location's token, time zone, statistics schedule and hold (paused, with
// the triggers kept), and the buttons connect (the hosted OAuth flow: POST
// /v1/oauth/authorizations, then HighLevel's consent page), pause, resume
// and remove (DELETE /v1/locations/{loc} after a confirmation naming the
// location and the two options, then its progress from GET
// /v1/locations/{loc}/removal until it is done). For a key with the trigger scope: the test console (POST
// /v1/locations/{loc}/doctor), whose test calls the stats worker makes
// through the rate governor. Raw answers are HighLevel's bodies, never a
// request header; contacts' personal data in them is redacted by the
// gateway unless the key is admin.
"use strict";

async function refreshSetup() {
  syncPicker();
  const panel = $("#setup-panel");
  panel.hidden = !(can("admin") || can("trigger"));
  for (const id of ["#connect-location", "#pause-location", "#resume-location", "#remove-location"]) $(id).hidden = !can("admin");
  $("#run-doctor").hidden = !can("trigger");
  if (panel.hidden || !state.loc) {
    $("#setup-state").replaceChildren();
    return;
  }
  const loc = state.loc;
  const [l, s] = await Promise.all([api("/v1/locations/" + loc), api("/v1/locations/" + loc + "/settings")]);
  if (loc !== state.loc) return;
  const t = l.token;
  const token = t.status.replace("_", " ") + (t.expiresAt ? " until " + when(t.expiresAt) : "") + (t.canRefresh ? ", refreshable" : "") +
    (t.error ? " (" + t.error + ")" : "");
  const h = l.hold;
  const held = h
    ? (h.reason === "paused" ? "paused" : "waiting for re-authorisation") + " since " + when(h.since) + (h.by ? " by " + h.by : "") +
      " · " + fmt(h.triggers) + (h.triggers === 1 ? " trigger held" : " triggers held") + " · new triggers refused from " + when(h.refusingSince)
    : "running";
  const rows = [
    ["Location", (l.name ? l.name + " · " : "") + l.id, "setup-id"],
    ["State", l.state + (l.reason ? ": " + l.reason : ""), "setup-lifecycle"],
    ["Token", token, "setup-token"],
    ["Time zone", s.timezone || l.timezone || "UTC", "setup-timezone"],
    ["Statistics schedule", (s.stats.cron || "the default") + (s.stats.timezone ? " (" + s.stats.timezone + ")" : ""), "setup-schedule"],
    ["Work", l.removal ? "being removed since " + when(l.removal.since) + (l.removal.by ? " by " + l.removal.by : "") : held, "setup-hold"],
  ];
  $("#setup-state").replaceChildren(...rows.map(([k, v, id]) => el("tr", {}, el("th", { text: k }), el("td", { id, text: v }))));
  panel.dataset.paused = h && h.reason === "paused" ? "true" : "false";
  panel.dataset.removing = l.removal ? "true" : "false";
  $("#pause-location").disabled = !!l.removal || (!!h && h.reason === "paused");
  $("#resume-location").disabled = !!l.removal || !h || h.reason !== "paused";
  $("#remove-location").disabled = !!l.removal;
  if (l.removal && removal.loc !== loc) followRemoval(loc);
}

// removal is the removal the page follows: its location and timer.
const removal = { loc: "", timer: 0 };

// askRemove shows the confirmation naming the location and the options.
function askRemove() {
  const loc = state.loc;
  const l = fleet.items.find((x) => x.id === loc);
  $("#remove-question").textContent = "Remove " + (l && l.name ? l.name + " (" + loc + ")" : loc) +
    "? Its tokens, schedule, settings and state are deleted; it stops syncing. This cannot be undone.";
  $("#remove-purge").checked = false;
  $("#remove-purge-data").checked = false;
  $("#remove-confirm").dataset.location = loc;
  $("#remove-confirm").hidden = false;
}

// removeLocation asks for the confirmed removal and follows it.
async function removeLocation() {
  const box = $("#remove-confirm");
  const loc = box.dataset.location;
  box.hidden = true;
  const a = await api("/v1/locations/" + loc, { method: "DELETE", body: { purge: $("#remove-purge").checked, purgeData: $("#remove-purge-data").checked } });
  $("#setup-result").textContent = "Removal of " + loc + (a.duplicate ? " already asked for" : " asked for") + (a.purge ? ", with purge" : "") +
    (a.purgeData ? ", with its data" : "") + ": the stats worker runs it.";
  followRemoval(loc);
}

// followRemoval shows loc's removal progress until it is done.
function followRemoval(loc) {
  clearTimeout(removal.timer);
  removal.loc = loc;
  const tick = async () => {
    if (removal.loc !== loc) return;
    let r;
    try {
      r = await api("/v1/locations/" + loc + "/removal");
    } catch (e) {
      report(e);
      removal.timer = setTimeout(tick, 3000);
      return;
    }
    const out = $("#removal-progress");
    out.dataset.state = r.state;
    if (r.state === "removed") {
      out.textContent = "Location " + loc + " removed " + when(r.removedAt) + (r.by ? " by " + r.by : "") + ": " + r.detail + ".";
      removal.loc = "";
      const opt = Array.from($("#location").options).find((o) => o.value === loc);
      if (opt) opt.remove();
      fleet.items = fleet.items.filter((x) => x.id !== loc);
      if (state.loc === loc) {
        state.loc = "";
        $("#setup-state").replaceChildren();
      }
      refreshFleet().catch(report);
      return;
    }
    const p = r.progress;
    out.textContent = "Removing " + loc + (r.purge
      ? p ? ": purge " + (p.state === "done" ? "done" : "at contact " + fmt(p.done) + " of " + fmt(p.contacts)) + ", " + fmt(p.tags) + " tags and " +
        fmt(p.values) + " custom values removed" : ": purge starting"
      : "") + "…";
    removal.timer = setTimeout(tick, 1000);
  };
  tick();
}

// syncPicker adds to the location picker the locations connected since
// sign-in (the view across locations lists them).
function syncPicker() {
  const sel = $("#location");
  const have = new Set(Array.from(sel.options).map((o) => o.value));
  for (const l of fleet.items) {
    if (!have.has(l.id)) sel.append(el("option", { value: l.id, text: (l.name ? l.name + " · " : "") + l.id }));
  }
  if (!state.loc && sel.options.length) chooseLocation(sel.options[0].value);
}

async function connectLocation() {
  const a = await api("/v1/oauth/authorizations", { method: "POST", body: {} });
  const link = $("#connect-link");
  link.href = a.authorizationUrl;
  link.hidden = false;
  $("#setup-result").textContent = "Open HighLevel's consent page and approve; the location appears here once the callback connected it. " +
    "The link works once, until " + when(a.expiresAt) + ".";
}

async function setPaused(pause) {
  const loc = state.loc;
  await api("/v1/locations/" + loc + "/" + (pause ? "pause" : "resume"), { method: "POST" });
  $("#setup-result").textContent = "Location " + loc + (pause ? " paused: its triggers are kept." : " resumed: its kept triggers are processed.");
  await refreshSetup();
}

async function runDoctor() {
  const loc = state.loc;
  const out = $("#doctor-result");
  out.replaceChildren(el("p", { class: "sub", text: "Checking " + loc + "…" }));
  const r = await api("/v1/locations/" + loc + "/doctor", { method: "POST" });
  if (loc !== state.loc) return;
  const calls = r.calls.map((c) => {
    const rl = c.rateLimit;
    const raw = c.raw
      ? el("details", {}, el("summary", { text: "raw answer" + (c.rawTruncated ? " (truncated)" : "") }), el("pre", { class: "raw", text: pretty(c.raw) }))
      : "";
    return el("tr", { "data-outcome": c.outcome },
      el("td", { text: c.name }),
      el("td", { text: c.path ? c.method + " " + c.path : "–" }),
      el("td", { class: "outcome", text: (c.status ? c.status + " " : "") + c.outcome + (c.skipped ? ": " + c.skipped : "") + (c.error ? ": " + c.error : "") }),
      el("td", { class: "num", text: c.path ? fmt(c.latencyMs) + " ms" : "–" }),
      el("td", { class: "num", text: rl ? fmt(rl.remaining) + " / " + fmt(rl.max) : "–" }),
      el("td", { class: "num", text: rl ? fmt(rl.dailyRemaining) + " / " + fmt(rl.dailyLimit) : "–" }),
      el("td", {}, raw));
  });
  const scopes = r.scopesKnown
    ? "Scopes granted: " + (r.granted.join(" ") || "none") + (r.missing.length ? " · missing: " + r.missing.join(" ") : " · none missing")
    : "Scopes: unknown (a private integration token's were chosen in HighLevel)";
  out.replaceChildren(
    el("p", { id: "doctor-summary", text: "Checked " + when(r.at) + " · token " + r.token + " · key " + r.tokenKey + " · time zone " + r.timezone }),
    el("p", { id: "doctor-scopes", class: "sub", text: scopes }),
    el("table", { id: "doctor-calls" },
      el("thead", {}, el("tr", {}, ...["Call", "Endpoint", "Status", "Latency", "Headroom", "Daily", ""].map((h) => el("th", { text: h })))),
      el("tbody", {}, ...calls)),
    el("h3", { text: r.problems.length ? "Problems" : "No problems found" }),
    el("ul", { id: "doctor-problems" }, ...r.problems.map((p) => el("li", { text: p }))));
}

// pretty indents a JSON body; another body is shown as it came.
function pretty(raw) {
  try { return JSON.stringify(JSON.parse(raw), null, 2); } catch (e) { return raw; }
}

document.addEventListener("DOMContentLoaded", () => {
  $("#connect-location").addEventListener("click", () => connectLocation().catch(report));
  $("#pause-location").addEventListener("click", () => setPaused(true).catch(report));
  $("#resume-location").addEventListener("click", () => setPaused(false).catch(report));
  $("#remove-location").addEventListener("click", askRemove);
  $("#remove-cancel").addEventListener("click", () => { $("#remove-confirm").hidden = true; });
  $("#remove-confirm-button").addEventListener("click", () => removeLocation().catch(report));
  $("#run-doctor").addEventListener("click", () => runDoctor().catch(report));
});
