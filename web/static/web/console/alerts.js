// Open alerts to acknowledge, and the history of cleared ones; both follow the event stream.
import { alertList, describe } from "./alerts-list.js";
import { api, data, el, follow, keepTimesFresh, ready, stamp } from "./common.js";

const historyBody = document.getElementById("history");

function historyRows(alerts) {
  historyBody.replaceChildren(
    ...alerts.map((a) =>
      el(
        "tr",
        { "data-alert": a.id },
        el("td", {}, a.rule),
        el("td", {}, describe(a)),
        el("td", {}, stamp(a.raised_at)),
        el("td", {}, `${stamp(a.cleared_at)}${a.cleared_reason ? ` (${a.cleared_reason})` : ""}`),
        el("td", {}, a.acknowledged_at ? `${a.acknowledged_by}, ${stamp(a.acknowledged_at)}` : "–"),
      ),
    ),
  );
}

const open = alertList(document.getElementById("alerts"), data.open);
historyRows(data.history);
keepTimesFresh();
ready();

async function reloadHistory() {
  const page = await api("/api/alerts/");
  historyRows(page.results.filter((a) => !a.open));
}

follow({
  handlers: {
    "alert.raised": (e) => open.raised(e),
    "alert.cleared": (e) => {
      open.cleared(e);
      reloadHistory();
    },
  },
  onGap: reloadHistory,
});
