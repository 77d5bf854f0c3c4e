// Sightings per minute (last hour) and per hour (last day), with the read rate, for one zone or
// camera, drawn by uPlot from /api/counts/; new sightings raise the current minute live.
import uPlot from "../../vendor/uplot/uPlot.esm.js";
import { api, data, el, follow, pct, ready } from "./common.js";

const WINDOWS = { minute: { step: 60, count: 60 }, hour: { step: 3600, count: 24 } };
const pick = document.getElementById("pick");
const charts = {};
const series = {};

const zones = el("optgroup", { label: "Zones" }, ...data.zones.map((z) => el("option", { value: `zone:${z}` }, z)));
const cameras = el("optgroup", { label: "Cameras" }, ...data.cameras.map((c) => el("option", { value: `camera:${c}` }, c)));
pick.append(zones, cameras);
const wanted = new URLSearchParams(location.search);
const initial = wanted.get("zone") ? `zone:${wanted.get("zone")}` : wanted.get("camera") ? `camera:${wanted.get("camera")}` : null;
if (initial && [...pick.options].some((o) => o.value === initial)) pick.value = initial;

function selection() {
  const [kind, ...rest] = pick.value.split(":");
  return { kind, name: rest.join(":") };
}

// Every bucket of the window, zeros where nothing happened (the API leaves empty buckets out).
function fill(bucket, rows) {
  const { step, count } = WINDOWS[bucket];
  const now = Math.floor(Date.now() / 1000);
  const last = now - (now % step);
  const xs = [];
  for (let i = count - 1; i >= 0; i -= 1) xs.push(last - i * step);
  const byStart = new Map(rows.map((r) => [Math.floor(Date.parse(r.start) / 1000), r]));
  const sightings = xs.map((x) => byStart.get(x)?.sightings ?? 0);
  const rate = xs.map((x) => {
    const r = byStart.get(x);
    return r && r.read_rate !== null ? 100 * r.read_rate : null;
  });
  return [xs, sightings, rate];
}

function draw(bucket, points) {
  const figure = document.getElementById(`chart-${bucket}`);
  series[bucket] = points;
  figure.dataset.total = String(points[1].reduce((n, v) => n + v, 0));
  if (charts[bucket]) {
    charts[bucket].setData(points);
    return;
  }
  const width = Math.max(280, figure.clientWidth - 4);
  charts[bucket] = new uPlot(
    {
      width,
      height: 220,
      series: [
        {},
        { label: "sightings", stroke: "#2458c6", fill: "rgba(36,88,198,.15)", paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false } },
        { label: "read rate %", stroke: "#1f8a4c", scale: "%", width: 2, value: (u, v) => (v === null ? "–" : `${v.toFixed(1)} %`) },
      ],
      scales: { "%": { range: [0, 100] } },
      axes: [{}, { label: "sightings" }, { side: 1, scale: "%", label: "read rate %", grid: { show: false } }],
    },
    points,
    figure,
  );
}

async function load() {
  const { kind, name } = selection();
  if (!name) return;
  const now = new Date();
  const query = (bucket) => {
    const { step, count } = WINDOWS[bucket];
    const since = new Date(now.getTime() - step * 1000 * count);
    return `/api/counts/?${new URLSearchParams({ [kind]: name, bucket, since: since.toISOString(), until: new Date(now.getTime() + step * 1000).toISOString() })}`;
  };
  const [minute, hour] = await Promise.all([api(query("minute")), api(query("hour"))]);
  draw("minute", fill("minute", minute.results));
  draw("hour", fill("hour", hour.results));
  const total = hour.results.reduce((n, r) => n + r.sightings, 0);
  const frames = hour.results.reduce((n, r) => n + r.frames, 0);
  const reads = hour.results.reduce((n, r) => n + r.reads, 0);
  document.getElementById("totals").textContent = `last 24 h: ${total} sightings, read rate ${pct(frames ? reads / frames : null)}`;
  history.replaceState(null, "", `?${new URLSearchParams({ [kind]: name })}`);
}

pick.addEventListener("change", load);
await load();
document.body.dataset.charted = String(Object.keys(charts).length);
ready();

follow({
  handlers: {
    "sighting.new": (e) => {
      const { kind, name } = selection();
      if (e[kind] !== name) return;
      for (const bucket of ["minute", "hour"]) {
        const points = series[bucket];
        if (!points) continue;
        const { step } = WINDOWS[bucket];
        const at = Math.floor(Date.parse(e.first_seen) / 1000);
        const i = points[0].indexOf(at - (at % step));
        if (i >= 0) {
          points[1][i] += 1;
          charts[bucket].setData(points);
          document.getElementById(`chart-${bucket}`).dataset.total = String(points[1].reduce((n, v) => n + v, 0));
        }
      }
    },
  },
  onGap: load,
});
