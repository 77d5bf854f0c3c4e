// A table of sightings, newest first, that live events insert into and update in place.
import { clock, duration, el } from "./common.js";

const MAX_ROWS = 40;

export function journeyLink(code) {
  return el("a", { href: `/journey/?code=${encodeURIComponent(code)}`, class: "code" }, code || "(binary)");
}

export function sightingFeed(tbody, initial, { showCamera }) {
  const rows = new Map();

  function row(s) {
    const open = !s.ended_at;
    return el(
      "tr",
      { "data-sighting": s.id, class: open ? "open" : null },
      el("td", {}, journeyLink(s.code)),
      showCamera
        ? el("td", {}, el("a", { href: `/cameras/${encodeURIComponent(s.camera)}/` }, s.camera))
        : el("td", {}, s.zone || "–"),
      el("td", {}, el("time", { datetime: s.first_seen }, clock(s.first_seen))),
      el(
        "td",
        {},
        open
          ? el("span", { class: "dot", title: "in view now" }, el("span", { "data-since": s.first_seen }, duration(s.dwell_s)), " ●")
          : duration(s.dwell_s),
      ),
    );
  }

  // A new sighting goes on top; an update or end only changes a row the table still shows.
  function upsert(s, { insert = true } = {}) {
    const old = rows.get(s.id);
    if (!old && !insert) return;
    const fresh = row(s);
    if (old) {
      old.replaceWith(fresh);
    } else {
      tbody.prepend(fresh);
      fresh.classList.add("new");
    }
    rows.set(s.id, fresh);
    while (tbody.children.length > MAX_ROWS) {
      rows.delete(Number(tbody.lastElementChild.dataset.sighting));
      tbody.lastElementChild.remove();
    }
  }

  for (const s of [...initial].reverse()) upsert(s);
  for (const node of tbody.querySelectorAll(".new")) node.classList.remove("new");
  return { upsert };
}
