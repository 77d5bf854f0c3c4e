// One code's journey: where it was, in time order, with dwell at each camera and the gaps between.
import { ago, api, clock, data, duration, el, follow, keepTimesFresh, ready, stamp } from "./common.js";

const root = document.getElementById("journey");
let journey = data;

function timeline(visits) {
  const start = Date.parse(visits[0].first_seen);
  const end = Math.max(...visits.map((v) => Date.parse(v.ended_at || v.last_seen)), start + 1000);
  const span = end - start;
  const bar = el("div", { class: "timeline", role: "img", "aria-label": `${visits.length} visits over ${duration(span / 1000)}` });
  for (const v of visits) {
    const from = Date.parse(v.first_seen);
    const to = Date.parse(v.ended_at || v.last_seen);
    const seg = el("span", { class: "seg", title: `${v.camera} ${clock(v.first_seen)}–${clock(v.ended_at || v.last_seen)}` });
    seg.style.left = `${(100 * (from - start)) / span}%`;
    seg.style.width = `${(100 * (to - from)) / span}%`;
    bar.append(seg);
  }
  return [
    bar,
    el("div", { class: "axis muted" }, el("span", {}, stamp(visits[0].first_seen)), el("span", {}, duration(span / 1000)), el("span", {}, stamp(new Date(end).toISOString()))),
  ];
}

function render() {
  const code = journey.code;
  if (!code) {
    root.replaceChildren(el("p", {}, "Type or scan a code into the search box above (press / to get there)."));
    return;
  }
  const visits = journey.sightings;
  if (!visits.length) {
    root.replaceChildren(el("p", { class: "journey-head" }, el("span", { class: "big" }, code)), el("p", { id: "no-sightings" }, "No sightings of this code."));
    return;
  }
  const last = journey.last_seen;
  const cameras = new Set(visits.map((v) => v.camera));
  const head = el(
    "div",
    { class: "journey-head" },
    el("span", { class: "big" }, code),
    el(
      "span",
      { id: "last-seen" },
      "last seen at ",
      el("a", { href: `/cameras/${encodeURIComponent(last.camera)}/` }, last.camera),
      last.zone ? ` (${last.zone})` : "",
      " ",
      el("b", { "data-ago": last.at }, ago(last.at)),
    ),
    el("span", { class: "muted" }, `${visits.length} sightings at ${cameras.size} cameras`),
  );
  const rows = visits.map((v, i) => {
    const previous = visits[i - 1];
    const gap = previous ? (Date.parse(v.first_seen) - Date.parse(previous.ended_at || previous.last_seen)) / 1000 : null;
    return el(
      "tr",
      { class: v.ended_at ? null : "open" },
      el("td", {}, String(i + 1)),
      el("td", { class: "journey-camera" }, el("a", { href: `/cameras/${encodeURIComponent(v.camera)}/` }, v.camera)),
      el("td", {}, v.zone || "–"),
      el("td", {}, el("time", { datetime: v.first_seen, title: stamp(v.first_seen) }, clock(v.first_seen))),
      el("td", {}, v.ended_at ? clock(v.ended_at) : el("span", { class: "dot" }, "in view ●")),
      el("td", {}, duration(v.dwell_s)),
      el("td", { class: "gap" }, gap === null ? "arrival" : `${duration(gap)} after`),
      el("td", {}, String(v.frames)),
    );
  });
  const table = el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...["#", "Camera", "Zone", "Arrived", "Left", "Dwell", "Gap", "Frames"].map((h) => el("th", { scope: "col" }, h)))),
    el("tbody", {}, ...rows),
  );
  root.replaceChildren(head, ...timeline(visits), table);
}

render();
keepTimesFresh();
ready();

if (journey.code) {
  let pending = null;
  const refresh = () => {
    // Events of one sighting come in bursts: one refetch per burst.
    clearTimeout(pending);
    pending = setTimeout(async () => {
      journey = await api(`/api/journey/?code=${encodeURIComponent(journey.code)}`);
      render();
    }, 150);
  };
  const mine = (e) => e.code === journey.code && refresh();
  follow({ handlers: { "sighting.new": mine, "sighting.update": mine, "sighting.end": mine }, onGap: refresh });
}
