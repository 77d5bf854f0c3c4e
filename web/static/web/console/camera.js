// One camera: what it sees now (the latest decoded frame, codes outlined), its health and history,
// and its sightings as they happen.
import { ago, api, data, el, follow, keepTimesFresh, pct, ready, sightingFromEvent, stamp } from "./common.js";
import { sightingFeed } from "./feed.js";

const base = `/cameras/${encodeURIComponent(data.name)}`;
const frame = document.getElementById("frame");
const info = document.getElementById("frame-info");
const SVG = "http://www.w3.org/2000/svg";

function figures() {
  const cells = [
    ["status", data.status],
    ["capture p50", data.capture_p50_ms === null ? "–" : `${data.capture_p50_ms.toFixed(0)} ms`],
    ["capture p95", data.capture_p95_ms === null ? "–" : `${data.capture_p95_ms.toFixed(0)} ms`],
    ["captures ok", pct(data.success_ratio)],
    ["read rate, 1 h", pct(data.read_rate_1h)],
    ["interval", `${data.interval_s} s`],
  ];
  document.getElementById("figures").replaceChildren(
    ...cells.map(([label, value]) => el("div", { class: "figure" }, el("b", {}, value), el("span", { class: "muted" }, label))),
  );
  document.getElementById("cam-status").replaceChildren(
    el("span", { class: `badge st-${data.status}` }, data.status),
    " ",
    data.since ? el("span", { class: "muted", "data-ago": data.since }, ago(data.since)) : "",
    ...(data.error && data.status !== "online" ? [el("span", { class: "muted" }, ` · ${data.error}`)] : []),
  );
}

function history() {
  document.getElementById("history").replaceChildren(
    ...data.events.map((e) =>
      el("tr", {}, el("td", {}, el("time", { datetime: e.at }, stamp(e.at))), el("td", {}, `${e.previous} → ${e.status}`), el("td", {}, e.reason || "")),
    ),
  );
}

// The picture and its outlines are fetched together, so the boxes always belong to the picture.
async function showLatest() {
  let meta;
  try {
    meta = await api(`${base}/latest.json`);
  } catch {
    info.textContent = "Could not ask for the latest frame; trying again.";
    return;
  }
  if (!meta.available) {
    info.textContent = "No frame in the last minute.";
    return;
  }
  const img = el("img", { src: `${base}/latest.jpg?t=${encodeURIComponent(meta.scheduled_at)}`, alt: `latest frame of ${data.name}`, width: meta.width, height: meta.height });
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${meta.width} ${meta.height}`);
  svg.setAttribute("aria-hidden", "true");
  for (const code of meta.codes) {
    const outline = document.createElementNS(SVG, "polygon");
    outline.setAttribute("points", code.position.map((p) => p.join(",")).join(" "));
    const title = document.createElementNS(SVG, "title");
    title.textContent = `${code.format}: ${code.text}`;
    outline.append(title);
    svg.append(outline);
  }
  img.addEventListener("load", () => frame.replaceChildren(img, svg), { once: true });
  const names = meta.codes.map((c) => c.text || "(binary)").join(", ");
  info.replaceChildren(
    "captured ",
    el("span", { "data-ago": meta.captured_at }, ago(meta.captured_at)),
    ` · ${meta.codes.length ? `${meta.codes.length} code(s): ${names}` : "no code in view"}`,
  );
}

figures();
history();
const feed = sightingFeed(document.getElementById("feed"), data.sightings, { showCamera: false });
await showLatest();
keepTimesFresh();
ready();
// A picture is not an event: it is fetched again at the camera's pace (at most every 2 s).
setInterval(showLatest, Math.max(2, data.interval_s) * 1000);

const mine = (handler) => (e) => e.camera === data.name && handler(e);
follow({
  handlers: {
    "sighting.new": mine((e) => feed.upsert(sightingFromEvent(e))),
    "sighting.update": mine((e) => feed.upsert(sightingFromEvent(e), { insert: false })),
    "sighting.end": mine((e) => feed.upsert(sightingFromEvent(e), { insert: false })),
    "camera.status": mine((e) => {
      Object.assign(data, { status: e.status, since: e.since, error: e.reason });
      data.events.unshift({ at: e.since, previous: e.previous, status: e.status, reason: e.reason });
      figures();
      history();
    }),
  },
});
