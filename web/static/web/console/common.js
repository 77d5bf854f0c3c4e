// What every console page shares: its inline data, DOM and time helpers, the API, the event stream.

export const data = JSON.parse(document.getElementById("page-data").textContent);
// Where the event log stood when the page's data was read, which alerts were open then, and what
// this user's role allows.
const stream = JSON.parse(document.getElementById("stream-data").textContent);
export const may = { acknowledge: stream.can_acknowledge };

// el("a", {href: "/x", class: "y"}, "text", child): text children are always text, never HTML.
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(seconds)) return "–";
  const s = Math.max(0, seconds);
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 90) return `${Math.round(s)} s`;
  if (s < 5400) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
  return `${Math.round(s / 86400)} d`;
}

export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  return `${duration((now - Date.parse(iso)) / 1000)} ago`;
}

export function clock(iso) {
  if (!iso) return "–";
  return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
}

export function stamp(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return `${d.toLocaleDateString()} ${clock(iso)}`;
}

export function pct(ratio) {
  return ratio === null || ratio === undefined ? "–" : `${(100 * ratio).toFixed(1)} %`;
}

// Relative times stay true: every [data-ago] ("12 s ago") and [data-since] (how long so far, for what
// is still going on) element is rewritten each second.
export function keepTimesFresh(root = document) {
  const tick = () => {
    const now = Date.now();
    for (const node of root.querySelectorAll("[data-ago]")) node.textContent = ago(node.dataset.ago, now);
    for (const node of root.querySelectorAll("[data-since]")) {
      node.textContent = duration((now - Date.parse(node.dataset.since)) / 1000);
    }
  };
  tick();
  setInterval(tick, 1000);
}

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1]) : "";
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["X-CSRFToken"] = csrfToken();
    if (body !== undefined) headers["Content-Type"] = "application/json";
  }
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status}`);
  return response.json();
}

// The header's status summary follows camera.status events on every page.
const summaryCells = new Map(
  [...document.querySelectorAll("#summary [data-status]")].map((b) => [b.dataset.status, b]),
);
export function summaryMove(previous, status) {
  for (const [key, delta] of [[previous, -1], [status, +1]]) {
    const cell = summaryCells.get(key);
    if (cell) cell.textContent = String(Math.max(0, Number(cell.textContent) + delta));
  }
}
export function summarySet(summary) {
  for (const [key, cell] of summaryCells) cell.textContent = String(summary[key] ?? 0);
}

// A set, not a counter: an event replayed at the seam between page data and stream counts once.
const alertBadge = document.getElementById("alert-count");
const openAlerts = new Set(stream.open_alerts);
function alertOpen(id, open) {
  if (open) openAlerts.add(id);
  else openAlerts.delete(id);
  alertBadge.textContent = String(openAlerts.size);
  alertBadge.classList.toggle("hot", openAlerts.size > 0);
}

const liveBadge = document.getElementById("live");
function setLive(state) {
  liveBadge.textContent = state;
  liveBadge.dataset.state = state;
}

// A sighting from the event stream in the API's shape, so one renderer serves both.
export function sightingFromEvent(e) {
  const dwell = (Date.parse(e.ended_at || e.last_seen) - Date.parse(e.first_seen)) / 1000;
  return { ...e, id: e.sighting, dwell_s: dwell };
}

// Follows the event stream: one connection per page, filtered here (the header's summary and alert
// count need camera.status and alert events on every page anyway). EventSource resumes by itself
// after a dropped connection, sending the last event id, and the server replays what was missed.
// When it gives up (the server answered an error, or went away for good) a new one is opened after
// a pause, from the last id, and onGap lets the page redraw from the API in case the log no longer
// held everything in between.
const HEADER_TYPES = ["camera.status", "alert.raised", "alert.cleared"];

export function follow({ handlers, onGap }) {
  const types = [...new Set([...HEADER_TYPES, ...Object.keys(handlers)])];
  let last = stream.after;
  let delay = 1000;
  let source = null;
  const connect = () => {
    const query = new URLSearchParams({ types: types.join(",") });
    if (last) query.set("since_id", last);
    source = new EventSource(`/api/events/stream?${query}`);
    source.onopen = () => {
      delay = 1000;
      setLive("live");
    };
    source.onerror = () => {
      setLive("reconnecting…");
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(() => {
          if (onGap) onGap();
          connect();
        }, delay);
        delay = Math.min(delay * 2, 15000);
      }
    };
    for (const type of types) {
      source.addEventListener(type, (message) => {
        last = message.lastEventId || last;
        const event = JSON.parse(message.data);
        if (type === "camera.status") summaryMove(event.previous, event.status);
        if (type === "alert.raised") alertOpen(event.alert, true);
        if (type === "alert.cleared") alertOpen(event.alert, false);
        const handler = handlers[type];
        if (handler) handler(event);
      });
    }
  };
  connect();
}

// "/" focuses the code search from anywhere but a text field, as in most consoles.
document.addEventListener("keydown", (event) => {
  const target = event.target;
  const typing = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement || target.isContentEditable;
  if (event.key === "/" && !typing && !event.ctrlKey && !event.metaKey) {
    event.preventDefault();
    document.getElementById("code-search").focus();
  }
});

export function ready() {
  performance.mark("console-ready");
  document.body.dataset.ready = "1";
}
