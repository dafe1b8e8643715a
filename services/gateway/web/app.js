// socialsync dashboard: plain JavaScript over the gateway's API
// (openapi.yaml). The API key stays in session storage and is sent as a
// bearer token; live updates come from /v1/events (server-sent events,
// read with fetch so that the key travels in a header, not in the URL).
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { key: sessionStorage.getItem("socialsync.key") || "", me: null, loc: "", tags: [], live: null, refreshTimer: 0, pollTimer: 0 };
const colors = ["#2f6fed", "#e8710a", "#1e8e3e", "#a142f4", "#d93025", "#12b5cb", "#f9ab00", "#5f6368"];
const platformColor = {};

function colorOf(platform) {
  if (!platformColor[platform]) {
    platformColor[platform] = colors[Object.keys(platformColor).length % colors.length];
  }
  return platformColor[platform];
}

class AuthError extends Error {}
class ScopeError extends Error {}

async function api(path, opts = {}) {
  const headers = { Authorization: "Bearer " + state.key };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(path, { method: opts.method || "GET", headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) });
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (resp.status === 401) throw new AuthError((data && data.error && data.error.message) || "unauthorized");
  if (!resp.ok) {
    const e = new Error((data && data.error && data.error.message) || resp.status + " " + resp.statusText);
    e.body = data; // the refusal, with the fields at fault (error.problems)
    throw e;
  }
  return data;
}

// all follows nextCursor until the last page.
async function all(path) {
  let items = [];
  let cursor = "";
  for (let i = 0; i < 100; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api(path + sep + "limit=500" + (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
    items = items.concat(page.items);
    if (!page.nextCursor) return { items, page };
    cursor = page.nextCursor;
  }
  return { items };
}

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k === "text") e.textContent = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

const fmt = (n) => (n === undefined || n === null ? "–" : Number(n).toLocaleString("en-US", { maximumFractionDigits: 1 }));
const when = (t) => (t ? new Date(t).toLocaleString() : "–");
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));

// --- sign-in ---------------------------------------------------------------

function showSignin(message) {
  stopLive();
  $("#app").hidden = true;
  $("#bar").hidden = true;
  $("#signin").hidden = false;
  const err = $("#signin-error");
  err.hidden = !message;
  err.textContent = message || "";
  $("#apikey").focus();
}

// can reports whether the signed-in key holds scope (GET /v1/me).
const can = (scope) => !!state.me && state.me.scopes.includes(scope);

// showGrant says what the key may do and see, and hides what it may not:
// the actions without the trigger scope, replays without the deadletters
// scope, the fleet-wide workers for a key limited to some locations (the
// gateway sends it none).
function showGrant(me) {
  state.me = me;
  const where = me.allLocations ? "every location" : me.locations.length + (me.locations.length === 1 ? " location" : " locations");
  $("#key-grant").textContent = me.scopes.join(" · ") + " · " + where;
  $("#actions-panel").hidden = !can("trigger");
  $("#settings-panel").hidden = !can("admin");
  $("#workers").hidden = !me.allLocations;
}

async function signin(key) {
  state.key = key;
  try {
    const me = await api("/v1/me");
    if (!me.scopes.includes("read")) throw new ScopeError("This API key lacks the read scope the dashboard needs (it has " + (me.scopes.join(", ") || "none") + ").");
    showGrant(me);
    const { items } = await all("/v1/locations");
    sessionStorage.setItem("socialsync.key", key);
    $("#signin").hidden = true;
    $("#app").hidden = false;
    $("#bar").hidden = false;
    const sel = $("#location");
    sel.replaceChildren(...items.map((l) => el("option", { value: l.id, text: (l.name ? l.name + " · " : "") + l.id })));
    const saved = sessionStorage.getItem("socialsync.loc");
    state.loc = items.some((l) => l.id === saved) ? saved : (items[0] ? items[0].id : "");
    sel.value = state.loc;
    if (!items.length) $("#tags-note").textContent = "No location is connected yet: socialsync locations add …";
    startLive();
    await refreshAll();
    clearInterval(state.pollTimer);
    state.pollTimer = setInterval(() => refreshAll().catch(report), 5000);
  } catch (e) {
    state.key = "";
    sessionStorage.removeItem("socialsync.key");
    state.me = null;
    showSignin(e instanceof AuthError ? "That API key is not valid." : e instanceof ScopeError ? e.message : "Could not reach the gateway: " + e.message);
  }
}

function report(e) {
  if (e instanceof AuthError) {
    sessionStorage.removeItem("socialsync.key");
    showSignin("Signed out: the API key is no longer accepted.");
    return;
  }
  $("#action-result").textContent = "Error: " + e.message;
}

// --- panels ----------------------------------------------------------------

async function refreshAll() {
  if (!state.loc) return Promise.all([refreshFleet().then(refreshSetup), refreshHealth()]);
  await Promise.all([refreshFleet().then(refreshSetup), refreshSettings(), refreshTags(), refreshStats(), refreshRecommendations(), refreshSegments(), refreshRemap(), refreshHealth(), refreshDeadLetters()]);
}

function scheduleRefresh() {
  clearTimeout(state.refreshTimer);
  state.refreshTimer = setTimeout(() => refreshAll().catch(report), 300);
}

async function refreshTags() {
  const loc = state.loc;
  const { items, page } = await all("/v1/locations/" + loc + "/tags");
  if (loc !== state.loc) return;
  const before = new Map(state.tags.map((t) => [t.id, t.posts + "/" + t.contacts]));
  state.tags = items;
  // What performs first: the contacts a tag's posts reached, then its posts.
  const sorted = items.slice().sort((a, b) => b.contacts - a.contacts || b.posts - a.posts || a.name.localeCompare(b.name));
  const maxPosts = Math.max(1, ...items.map((t) => t.posts));
  const rows = sorted.map((t) => {
    const bar = el("span", { class: "bar" });
    bar.style.width = Math.round((60 * t.posts) / maxPosts) + "px";
    const tr = el("tr", { "data-tag-id": t.id },
      el("td", { text: t.name }),
      el("td", { class: "num posts" }, bar, String(t.posts)),
      el("td", { class: "num contacts", text: String(t.contacts) }),
      el("td", { text: (t.details && t.details.createdBy) || "–" }),
      el("td", { text: t.details ? when(t.details.updatedAt) : "details pending" }));
    if (before.size && before.get(t.id) !== t.posts + "/" + t.contacts) tr.className = "flash";
    return tr;
  });
  $("#tags tbody").replaceChildren(...rows);
  $("#tags-note").textContent = items.length
    ? items.length + " tags · catalogue fetched " + when(page && page.fetchedAt)
    : "No tag catalogue yet: it is fetched on the location's first post event.";
  const sel = $("#post-tags");
  const chosen = new Set(Array.from(sel.selectedOptions).map((o) => o.value));
  sel.replaceChildren(...items.map((t) => {
    const o = el("option", { value: t.id, text: t.name });
    o.selected = chosen.has(t.id);
    return o;
  }));
  renderCards("tags", [["Tags", items.length], ["Tags used on posts", items.reduce((s, t) => s + t.posts, 0)]]);
}

const overview = {};
function renderCards(group, cards) {
  overview[group] = cards;
  const all = [].concat(overview.tags || [], overview.stats || [], overview.health || []);
  $("#overview").replaceChildren(...all.map(([k, v]) => el("div", { class: "card" }, el("div", { class: "v", text: fmt(v) }), el("div", { class: "k", text: k }))));
}

async function refreshStats() {
  const loc = state.loc;
  const { items } = await all("/v1/locations/" + loc + "/stats");
  if (loc !== state.loc) return;
  const latest = items[0];
  const body = $("#stats-platforms tbody");
  if (!latest) {
    body.replaceChildren();
    $("#charts").replaceChildren();
    $("#stats-note").textContent = "No statistics yet: they are fetched daily, or now with “Refresh statistics”.";
    renderCards("stats", []);
    return;
  }
  $("#stats-note").textContent = "Day " + latest.day + " · taken " + when(latest.takenAt) + " · " + latest.profiles + " profiles · " + items.length + " days of history";
  const platforms = Object.keys(latest.platforms).sort();
  body.replaceChildren(...platforms.map((p) => {
    const s = latest.platforms[p];
    return el("tr", { "data-platform": p },
      el("td", { text: p }), ...["posts", "impressions", "reach", "followers", "likes", "comments", "shares"].map((k) => el("td", { class: "num", text: fmt(s[k]) })));
  }));
  const charts = [
    chart("Impressions per day (last 7 days)", latest.dayRange, latest.series.impressions),
    chart("Followers per day (last 7 days)", latest.dayRange, latest.series.followers),
    chart("Likes per day (last 7 days)", latest.dayRange, latest.series.likes),
    chart("Posts per day (last 7 days)", latest.dayRange, latest.series.posts),
  ];
  if (items.length > 1) {
    const days = items.slice().reverse();
    const history = {};
    for (const p of platforms) history[p] = days.map((d) => (d.platforms[p] ? d.platforms[p].impressions : 0));
    charts.push(chart("Impressions by snapshot day (history)", days.map((d) => d.day), history));
  }
  $("#charts").replaceChildren(...charts);
  renderCards("stats", [["Impressions", latest.totals.impressions], ["Followers", latest.totals.followers], ["Likes", latest.totals.likes]]);
}

// refreshRecommendations shows the cadence recommendations of the latest
// report; a platform without enough data says what is missing.
async function refreshRecommendations() {
  const loc = state.loc;
  const r = await api("/v1/locations/" + loc + "/recommendations");
  if (loc !== state.loc) return;
  $("#recommendations-note").textContent = (r.source === "stored" ? "From the latest report" : "No report stored yet; computed now") +
    " · " + r.from + " … " + r.to + " · " + when(r.generatedAt);
  const rows = r.cadence.map((c) => {
    const ok = c.status !== "not enough data";
    return el("tr", { "data-platform": c.platform, class: ok ? "" : "thin" },
      el("td", { text: c.platform }),
      ok ? el("td", { class: "status-cell", text: c.status }) : el("td", { class: "missing", text: c.status + " — needs " + (c.missing || []).join(" · ") }),
      el("td", { class: "num", text: fmt(c.postsPerWeek) }),
      el("td", { class: "num", text: ok ? fmt(c.suggestedPostsPerWeek) : "–" }),
      el("td", { class: "wrap", text: (c.bestWeekdays || []).join(", ") || "–" }),
      el("td", { class: "num", text: fmt(c.impressionsPerPost) }));
  });
  $("#recommendations tbody").replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: "6", text: "No statistics in the period yet." }))]));
  $("#best-platforms").textContent = r.bestPlatforms.length ? "Best platforms (impressions per post): " + r.bestPlatforms.join(", ") : "";
  const reportKey = loc + "@" + r.source + "@" + r.generatedAt;
  if (state.reportKey !== reportKey) {
    await refreshReportLink(loc);
    state.reportKey = reportKey;
  }
}

// refreshReportLink offers the latest HTML report. The API wants the key
// in a header, so the report is fetched here and offered as a download.
async function refreshReportLink(loc) {
  const link = $("#report-link");
  const resp = await fetch("/v1/locations/" + loc + "/reports/latest?format=html", { headers: { Authorization: "Bearer " + state.key } });
  if (loc !== state.loc) return;
  if (resp.status === 401) throw new AuthError("unauthorized");
  if (!resp.ok) {
    link.hidden = true;
    $("#report-note").textContent = resp.status === 404 ? "No report stored yet: one is stored after each day's statistics." : "Report unavailable (" + resp.status + ").";
    return;
  }
  const blob = await resp.blob();
  if (link.dataset.url) URL.revokeObjectURL(link.dataset.url);
  link.dataset.url = URL.createObjectURL(blob);
  link.href = link.dataset.url;
  link.download = "socialsync-report-" + loc + ".html";
  link.hidden = false;
  $("#report-note").textContent = "";
}

// refreshSegments shows the segments of the location and their sizes.
async function refreshSegments() {
  const loc = state.loc;
  const { items } = await all("/v1/locations/" + loc + "/segments");
  if (loc !== state.loc) return;
  $("#segments tbody").replaceChildren(...items.map((s) => el("tr", { "data-segment": s.name, class: s.loaded ? "" : "broken" },
    el("td", { text: s.name }),
    el("td", { class: "num members", text: fmt(s.members) }),
    el("td", { class: "wrap", text: s.loaded ? s.summary : "not loaded: " + (s.error || "") }))));
  $("#segments-note").textContent = items.length
    ? items.length + " segments · " + fmt(items.reduce((n, s) => n + s.members, 0)) + " memberships"
    : "No segment applies here yet: socialsync segments apply -f FILE, or PUT /v1/segments.";
}

// refreshRemap shows how far the renaming of the contact tags socialsync
// gave is, after the location's contact-tag template changed; while it
// runs, it is read again every two seconds.
async function refreshRemap() {
  const loc = state.loc;
  clearTimeout(state.remapTimer);
  const resp = await fetch("/v1/locations/" + loc + "/remap", { headers: { Authorization: "Bearer " + state.key } });
  if (loc !== state.loc) return;
  const note = $("#remap-note"), bar = $("#remap-progress");
  if (resp.status === 404) {
    note.textContent = "Contact tags are named by the location's template; it has not changed since they were given.";
    note.dataset.state = "";
    bar.hidden = true;
    return;
  }
  if (!resp.ok) throw new Error("contact tag renaming: " + resp.status + " " + resp.statusText);
  const r = await resp.json();
  note.dataset.state = r.state;
  note.textContent = (r.state === "done" ? "Renamed" : "Renaming") + " the contact tags socialsync gave to “" + r.template + "”: " +
    fmt(r.done) + "/" + fmt(r.total) + " contacts done, " + fmt(r.changed) + " renamed" +
    (r.failed ? ", " + fmt(r.failed) + " refused by HighLevel" : "") + (r.state === "done" ? "." : " …");
  bar.max = Math.max(r.total, 1);
  bar.value = r.total ? r.done : 1;
  bar.hidden = false;
  if (r.state !== "done") state.remapTimer = setTimeout(() => refreshRemap().catch(report), 2000);
}

// chart draws one inline SVG line per platform.
function chart(title, labels, series) {
  const W = 320, H = 140, L = 36, R = 8, T = 8, B = 22;
  const names = Object.keys(series || {}).sort();
  const n = Math.max(2, ...names.map((p) => series[p].length));
  const maxV = Math.max(1, ...names.flatMap((p) => series[p]));
  const x = (i) => L + ((W - L - R) * i) / (n - 1);
  const y = (v) => T + (H - T - B) * (1 - v / maxV);
  let svg = `<svg viewBox="0 0 ${W} ${H}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="${esc(title)}">`;
  svg += `<line x1="${L}" y1="${y(0)}" x2="${W - R}" y2="${y(0)}" stroke="#ccc"/>`;
  svg += `<line x1="${L}" y1="${y(maxV)}" x2="${W - R}" y2="${y(maxV)}" stroke="#eee"/>`;
  svg += `<text x="${L - 4}" y="${y(maxV) + 4}" font-size="9" text-anchor="end" fill="#6b7385">${esc(fmt(maxV))}</text>`;
  svg += `<text x="${L - 4}" y="${y(0) + 3}" font-size="9" text-anchor="end" fill="#6b7385">0</text>`;
  const ls = labels || [];
  if (ls.length) {
    svg += `<text x="${x(0)}" y="${H - 6}" font-size="9" fill="#6b7385">${esc(String(ls[0]).slice(0, 10))}</text>`;
    svg += `<text x="${x(n - 1)}" y="${H - 6}" font-size="9" text-anchor="end" fill="#6b7385">${esc(String(ls[ls.length - 1]).slice(0, 10))}</text>`;
  }
  for (const p of names) {
    const pts = series[p].map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    svg += `<polyline class="series" data-platform="${esc(p)}" fill="none" stroke="${colorOf(p)}" stroke-width="2" points="${pts}"/>`;
  }
  svg += "</svg>";
  const box = el("div", { class: "chart" }, el("h4", { text: title }));
  const holder = el("div");
  holder.innerHTML = svg; // built from numbers and escaped names only
  box.append(holder.firstChild);
  box.append(el("div", { class: "legend" }, ...names.map((p) => {
    const s = el("span", { text: "■ " + p });
    s.style.color = colorOf(p);
    return s;
  })));
  return box;
}

async function refreshHealth() {
  const h = await api("/v1/pipeline?limit=100");
  $("#consumers tbody").replaceChildren(...h.consumers.map((c) => el("tr", { "data-worker": c.worker + "/" + c.stream },
    el("td", { text: c.worker }), el("td", { text: c.stream }), el("td", { class: "num", text: fmt(c.lag) }),
    el("td", { class: "num", text: fmt(c.ackPending) }), el("td", { class: "num", text: fmt(c.redelivered) }),
    el("td", { class: "num", text: c.error ? "error" : fmt(c.perSecond) }))));
  $("#streams").textContent = h.streams.map((s) => s.name + ": " + fmt(s.messages) + " messages, " + fmt(s.perSecond) + "/s").join(" · ");
  $("#locations-health tbody").replaceChildren(...h.locations.map((l) => {
    const r = l.rate;
    const tr = el("tr", { "data-location": l.id },
      el("td", { text: l.name || l.id }),
      el("td", { class: "token", text: l.token.status + (l.token.expiresAt ? " until " + when(l.token.expiresAt) : "") }),
      el("td", { class: "num", text: r ? fmt(r.remaining) + " / " + fmt(r.max) + " per " + r.windowSeconds + "s" + (r.pausedUntil ? " (paused)" : "") : "–" }),
      el("td", { class: "num", text: r ? fmt(r.dailyUsed) + " / " + fmt(r.daily) : "–" }),
      el("td", { class: "num", text: fmt(h.deadLetters.byLocation[l.id] || 0) }));
    if (l.id === state.loc) tr.className = "current";
    return tr;
  }));
  const byWorker = Object.entries(h.deadLetters.byWorker);
  $("#deadletters").replaceChildren(...(byWorker.length
    ? byWorker.map(([w, n]) => el("li", { text: w + ": " + fmt(n) + " (socialsync dlq --worker " + w + ")" }))
    : [el("li", { text: "none" })]));
  const lag = h.consumers.reduce((s, c) => s + c.lag + c.ackPending, 0);
  // A key limited to some locations sees no worker, so no backlog.
  renderCards("health", (state.me && state.me.allLocations ? [["Pipeline backlog", lag]] : []).concat([["Dead letters", h.deadLetters.total]]));
}

// refreshDeadLetters lists the location's latest dead letters, with a
// replay button for a key that holds the deadletters scope.
async function refreshDeadLetters() {
  const loc = state.loc;
  const page = await api("/v1/deadletters?location=" + loc + "&limit=20");
  if (loc !== state.loc) return;
  $("#deadletter-list tbody").replaceChildren(...page.items.map((d) => {
    const action = el("td");
    if (can("deadletters")) {
      const b = el("button", { type: "button", class: "replay", text: "Replay" });
      b.addEventListener("click", () => replay(d.seq).catch(report));
      action.append(b);
    }
    return el("tr", { "data-seq": String(d.seq) },
      el("td", { class: "num", text: String(d.seq) }), el("td", { text: d.worker }),
      el("td", { class: "wrap", text: d.reason }), el("td", { text: when(d.time) }), action);
  }));
}

// --- actions ---------------------------------------------------------------

async function replay(seq) {
  const r = await api("/v1/deadletters/" + seq + "/replay", { method: "POST" });
  $("#action-result").textContent = "Dead letter " + seq + " replayed to " + r.subject + " seq " + r.sequence;
  scheduleRefresh();
}

async function triggerStats() {
  const r = await api("/v1/locations/" + state.loc + "/triggers/stats", { method: "POST", body: {} });
  $("#action-result").textContent = "Statistics requested: " + r.subject + " seq " + r.sequence + (r.duplicate ? " (duplicate)" : "");
}

async function triggerPost(ev) {
  ev.preventDefault();
  const tagIds = Array.from($("#post-tags").selectedOptions).map((o) => o.value);
  const contactIds = $("#post-contacts").value.split(",").map((s) => s.trim()).filter(Boolean);
  const postId = "dash" + Date.now().toString(36);
  const r = await api("/v1/locations/" + state.loc + "/triggers/post", {
    method: "POST", body: { postId, tagIds, contactIds, change: "CHANGE_CREATED", eventId: "dashboard:" + state.loc + ":" + postId },
  });
  $("#action-result").textContent = "Post event " + postId + " published: " + r.subject + " seq " + r.sequence;
}

// --- live updates ----------------------------------------------------------

function stopLive() {
  if (state.live) state.live.abort();
  state.live = null;
  setLive(false);
}

function setLive(on) {
  const s = $("#live-status");
  s.textContent = on ? "live" : "offline";
  s.className = "status " + (on ? "on" : "off");
}

function startLive() {
  stopLive();
  const ctrl = new AbortController();
  state.live = ctrl;
  (async () => {
    while (!ctrl.signal.aborted) {
      try {
        const headers = { Authorization: "Bearer " + state.key };
        if (state.lastEventId) headers["Last-Event-ID"] = state.lastEventId;
        const resp = await fetch("/v1/events", { headers, signal: ctrl.signal });
        if (resp.status === 401) { report(new AuthError("unauthorized")); return; }
        if (!resp.ok || !resp.body) throw new Error("events: " + resp.status);
        setLive(true);
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          let i;
          while ((i = buf.indexOf("\n\n")) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            const id = block.split("\n").find((l) => l.startsWith("id: "));
            if (id) state.lastEventId = id.slice(4);
            const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
            if (data) onEvent(JSON.parse(data));
          }
        }
      } catch (e) {
        if (ctrl.signal.aborted) return;
      }
      setLive(false);
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
}

function describe(ev) {
  const d = ev.data || {};
  switch (ev.type) {
    case "tag": return (d.change || "").replace("CHANGE_", "").toLowerCase() + " tag “" + (d.tagName || d.tagId) + "”" + (d.previousName ? " (was “" + d.previousName + "”)" : "");
    case "tagdetails": return "details of " + (d.tagDetails || []).length + " tags stored";
    case "stats": return "statistics " + (d.endpoint || "") + " for " + (d.day || "") + " (" + (d.profileIds || []).length + " profiles)";
    case "contact": return "contact " + d.contactId + (d.added ? " +" + d.added.join(", +") : "") + (d.removed ? " −" + d.removed.join(", −") : "");
    case "location": return "location " + (d.state || "") + (d.reason ? ": " + d.reason : "");
    case "recommendation": return "recommendations of " + (d.from || "") + " … " + (d.to || "") + " updated";
    case "segment": return "contact " + d.contactId + " " + (d.change === "SEGMENT_CHANGE_LEFT" ? "left" : "entered") + " segment " + d.segment;
  }
  return ev.subject;
}

function onEvent(ev) {
  if (ev.location === state.loc) {
    const li = el("li", { "data-type": ev.type }, el("span", { class: "t", text: new Date(ev.time).toLocaleTimeString() }),
      el("span", { class: "k", text: ev.type }), describe(ev));
    const feed = $("#live");
    feed.prepend(li);
    while (feed.children.length > 100) feed.lastChild.remove();
    scheduleRefresh();
  }
}

// --- wiring ----------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  $("#signin-form").addEventListener("submit", (e) => {
    e.preventDefault();
    signin($("#apikey").value.trim());
  });
  $("#signout").addEventListener("click", () => {
    sessionStorage.removeItem("socialsync.key");
    state.key = "";
    state.me = null;
    clearInterval(state.pollTimer);
    showSignin("");
  });
  $("#location").addEventListener("change", (e) => {
    state.loc = e.target.value;
    sessionStorage.setItem("socialsync.loc", state.loc);
    state.tags = [];
    $("#live").replaceChildren();
    refreshAll().catch(report);
  });
  $("#trigger-stats").addEventListener("click", () => triggerStats().catch(report));
  $("#trigger-post").addEventListener("submit", (e) => triggerPost(e).catch(report));
  if (state.key) signin(state.key);
  else showSignin("");
});
