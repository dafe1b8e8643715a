// socialsync dashboard: the view across locations (GET /v1/locations/health),
// the page's first panel. The gateway ranks the locations (trouble, warning,
// ok; docs/gateway.md, "Locations at a glance"); a click on a column heading
// sorts by that column, a second click reverses it. Names come from
// HighLevel; the id is on hover.
"use strict";

const fleet = { items: [], sort: "rank", dir: 1 };

// Columns whose largest value matters most sort descending first.
const descFirst = new Set(["oldest", "deadLetters", "dailyUsed", "lastStats"]);
const tokenOrder = { needs_reauth: 0, unknown: 1, expired: 2, valid: 3 };
const timeOf = (t, none) => (t ? Date.parse(t) : none);

const sortKeys = {
  rank: (l) => l.rank,
  name: (l) => (l.name || l.id).toLowerCase(),
  token: (l) => tokenOrder[l.token.status] ?? 9,
  oldest: (l) => l.oldestWaitingSeconds,
  deadLetters: (l) => l.deadLetters,
  headroom: (l) => l.rate.remaining,
  dailyUsed: (l) => l.rate.dailyUsed,
  capAt: (l) => timeOf(l.dailyCapAt, Infinity),
  lastStats: (l) => timeOf(l.lastStatsRun, 0),
};

function compareBy(key, dir) {
  const f = sortKeys[key];
  return (a, b) => {
    const x = f(a), y = f(b);
    const c = typeof x === "string" ? x.localeCompare(y) : x < y ? -1 : x > y ? 1 : 0;
    // Ties keep the gateway's order: the one in trouble first.
    return dir * c || a.order - b.order;
  };
}

function ago(seconds) {
  if (!seconds) return "–";
  if (seconds < 90) return Math.round(seconds) + " s";
  if (seconds < 5400) return Math.round(seconds / 60) + " min";
  if (seconds < 172800) return Math.round(seconds / 3600) + " h";
  return Math.round(seconds / 86400) + " d";
}

async function refreshFleet() {
  const { items } = await all("/v1/locations/health");
  fleet.items = items.map((l, i) => Object.assign(l, { order: i }));
  renderFleet();
}

function renderFleet() {
  for (const th of document.querySelectorAll("#fleet-table th[data-sort]")) {
    if (th.dataset.sort === fleet.sort) th.setAttribute("aria-sort", fleet.dir > 0 ? "ascending" : "descending");
    else th.removeAttribute("aria-sort");
  }
  const rows = fleet.items.slice().sort(compareBy(fleet.sort, fleet.dir)).map((l) => {
    const r = l.rate;
    const pick = el("button", { type: "button", class: "linkish", title: l.id, text: l.name || l.id });
    pick.addEventListener("click", () => chooseLocation(l.id));
    const tr = el("tr", { "data-location": l.id, "data-health": l.health },
      el("td", { class: "health health-" + l.health, title: l.problems.join("; "), text: l.health + (l.problems.length ? ": " + l.problems[0] : "") }),
      el("td", { class: "name" }, pick),
      el("td", { class: "token", text: l.token.status.replace("_", " ") }),
      el("td", { class: "num oldest", title: l.oldestWaiting ? when(l.oldestWaiting) : "", text: l.waiting ? ago(l.oldestWaitingSeconds) + " (" + fmt(l.waiting) + ")" : "–" }),
      el("td", { class: "num dead-letters", text: fmt(l.deadLetters) }),
      el("td", { class: "num", text: fmt(r.remaining) + " / " + fmt(r.max) + (r.pausedUntil ? " (paused)" : "") }),
      el("td", { class: "num", text: fmt(r.dailyUsed) + " / " + fmt(r.daily) }),
      el("td", { text: l.dailyCapAt ? when(l.dailyCapAt) : "not today" }),
      el("td", { text: l.lastStatsRun ? when(l.lastStatsRun) : "none in 8 days" }));
    if (l.id === state.loc) tr.classList.add("current");
    return tr;
  });
  $("#fleet-table tbody").replaceChildren(...rows);
  const n = { trouble: 0, warning: 0, ok: 0 };
  for (const l of fleet.items) n[l.health]++;
  $("#fleet-note").textContent = fleet.items.length
    ? fleet.items.length + " locations · " + n.trouble + " in trouble · " + n.warning + " to look at · " + n.ok + " ok"
    : "No location is connected yet.";
}

// chooseLocation shows a location's panels, as the picker does.
function chooseLocation(id) {
  const sel = $("#location");
  sel.value = id;
  sel.dispatchEvent(new Event("change"));
}

document.addEventListener("DOMContentLoaded", () => {
  for (const th of document.querySelectorAll("#fleet-table th[data-sort]")) {
    th.addEventListener("click", () => {
      const key = th.dataset.sort;
      if (fleet.sort === key) fleet.dir = -fleet.dir;
      else [fleet.sort, fleet.dir] = [key, descFirst.has(key) ? -1 : 1];
      renderFleet();
    });
  }
});
