// The overview: every camera (paged, filtered, problems first), open alerts and live sightings.
import { alertList } from "./alerts-list.js";
import { ago, api, data, el, follow, keepTimesFresh, ready, sightingFromEvent, summarySet } from "./common.js";
import { sightingFeed } from "./feed.js";

const PAGE = 60;
const SEVERITY = { offline: 0, degraded: 1, new: 2, online: 3 };
const cameras = new Map();
const zoneSelect = document.getElementById("f-zone");
const statusSelect = document.getElementById("f-status");
const nameInput = document.getElementById("f-name");
const grid = document.getElementById("grid");
let page = 0;

function load(list) {
  cameras.clear();
  for (const camera of list) cameras.set(camera.name, camera);
}

// Filters live in the URL, so a view of "offline cameras in zone dock" can be bookmarked or shared.
const params = new URLSearchParams(location.search);
for (const zone of data.zones) zoneSelect.append(el("option", {}, zone));
zoneSelect.value = params.get("zone") || "";
statusSelect.value = params.get("status") || "";
nameInput.value = params.get("q") || "";
page = Math.max(0, Number(params.get("page") || 1) - 1);

function matching() {
  const zone = zoneSelect.value;
  const status = statusSelect.value;
  const name = nameInput.value.trim().toLowerCase();
  return [...cameras.values()]
    .filter((c) => (!zone || c.zone === zone) && (!status || c.status === status))
    .filter((c) => !name || c.name.toLowerCase().includes(name))
    .sort((a, b) => SEVERITY[a.status] - SEVERITY[b.status] || (a.name < b.name ? -1 : 1));
}

function tile(camera) {
  const state = camera.enabled ? camera.status : "disabled";
  return el(
    "li",
    { class: `cam st-${camera.status}${camera.enabled ? "" : " off"}`, "data-camera": camera.name },
    el(
      "a",
      { href: `/cameras/${encodeURIComponent(camera.name)}/`, title: camera.error || null },
      el("b", { title: camera.name }, camera.name),
      el("span", { class: "muted" }, camera.zone || "no zone"),
      el("span", { class: "state" }, state, " ", camera.since ? el("span", { class: "muted", "data-ago": camera.since }, ago(camera.since)) : null),
    ),
  );
}

function render() {
  const list = matching();
  const pages = Math.max(1, Math.ceil(list.length / PAGE));
  page = Math.min(page, pages - 1);
  grid.replaceChildren(...list.slice(page * PAGE, (page + 1) * PAGE).map(tile));
  document.getElementById("cam-shown").textContent = `${list.length} of ${cameras.size}`;
  document.getElementById("page-of").textContent = `page ${page + 1} of ${pages}`;
  document.getElementById("prev").disabled = page === 0;
  document.getElementById("next").disabled = page >= pages - 1;
  const query = new URLSearchParams();
  if (zoneSelect.value) query.set("zone", zoneSelect.value);
  if (statusSelect.value) query.set("status", statusSelect.value);
  if (nameInput.value.trim()) query.set("q", nameInput.value.trim());
  if (page) query.set("page", String(page + 1));
  history.replaceState(null, "", query.size ? `?${query}` : location.pathname);
}

for (const control of [zoneSelect, statusSelect]) {
  control.addEventListener("change", () => {
    page = 0;
    render();
  });
}
nameInput.addEventListener("input", () => {
  page = 0;
  render();
});
document.getElementById("prev").addEventListener("click", () => {
  page -= 1;
  render();
});
document.getElementById("next").addEventListener("click", () => {
  page += 1;
  render();
});

load(data.cameras);
render();
const feed = sightingFeed(document.getElementById("feed"), data.sightings, { showCamera: true });
const alerts = alertList(document.getElementById("alerts"), data.alerts);
keepTimesFresh();
ready();

follow({
  handlers: {
    "sighting.new": (e) => feed.upsert(sightingFromEvent(e)),
    "sighting.update": (e) => feed.upsert(sightingFromEvent(e), { insert: false }),
    "sighting.end": (e) => feed.upsert(sightingFromEvent(e), { insert: false }),
    "camera.status": (e) => {
      const camera = cameras.get(e.camera);
      if (!camera) return;
      Object.assign(camera, { status: e.status, since: e.since, error: e.status === "online" ? "" : e.reason });
      // Counted from the cameras themselves, so an event seen twice changes nothing.
      const summary = { new: 0, online: 0, degraded: 0, offline: 0 };
      for (const c of cameras.values()) summary[c.status] += 1;
      summarySet(summary);
      render();
    },
    "alert.raised": (e) => alerts.raised(e),
    "alert.cleared": (e) => alerts.cleared(e),
  },
  onGap: async () => {
    const fresh = await api("/api/board/");
    load(fresh.cameras);
    summarySet(fresh.summary);
    render();
  },
});
