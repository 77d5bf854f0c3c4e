// Open alerts with an Acknowledge button; live events add and remove them.
import { ago, api, el, may, stamp } from "./common.js";

export function describe(a) {
  const where = [a.camera || a.detail?.camera, a.zone || a.detail?.zone, a.code || a.detail?.code].filter(Boolean);
  return where.length ? where.join(" · ") : a.key;
}

export function alertList(list, initial, { onChange } = {}) {
  const items = new Map();

  function item(a) {
    const acked = a.acknowledged_at
      ? el("span", { class: "muted" }, `acknowledged by ${a.acknowledged_by} ${ago(a.acknowledged_at)}`)
      : !may.acknowledge
        ? el("span", { class: "muted" }, "not acknowledged (operators acknowledge)")
        : el(
          "button",
          {
            type: "button",
            class: "ack",
            onclick: async (event) => {
              event.target.disabled = true;
              try {
                const done = await api(`/api/alerts/${a.id}/acknowledge/`, { method: "POST" });
                put(done);
                if (onChange) onChange(done);
              } catch (error) {
                event.target.disabled = false;
                event.target.textContent = "Retry acknowledge";
              }
            },
          },
          "Acknowledge",
        );
    return el(
      "li",
      { class: `alert kind-${a.kind}`, "data-alert": a.id },
      el("b", {}, a.rule),
      " ",
      el("span", {}, describe(a)),
      el("span", { class: "muted", title: stamp(a.raised_at) }, " raised ", el("span", { "data-ago": a.raised_at }, ago(a.raised_at))),
      acked,
    );
  }

  function put(a) {
    const fresh = item(a);
    const old = items.get(a.id);
    if (old) old.replaceWith(fresh);
    else list.prepend(fresh);
    items.set(a.id, fresh);
    empty.hidden = items.size > 0;
  }

  const empty = el("li", { class: "muted empty" }, "No open alerts.");
  list.append(empty);
  for (const a of [...initial].reverse()) put(a);
  empty.hidden = items.size > 0;

  return {
    put,
    raised(e) {
      put({ id: e.alert, rule: e.rule, kind: e.kind, key: e.key, camera: e.camera, zone: e.zone, code: e.code, detail: e.detail, raised_at: e.raised_at });
    },
    cleared(e) {
      const node = items.get(e.alert);
      if (node) node.remove();
      items.delete(e.alert);
      empty.hidden = items.size > 0;
    },
  };
}
