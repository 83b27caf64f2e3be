// Chargeplane console: live regions over server-sent events, the command panel and the transaction chart.
// Our own code, no framework; the pages work without it (forms post, pages reload).
"use strict";

(function () {
  const KINDS = ["connected", "disconnected", "boot", "status", "transaction.started", "transaction.updated",
    "transaction.ended", "transaction.closed", "meter_values", "command", "command.follow_up", "security.event",
    "local_list", "site.changed", "site.grid_limit", "firmware.status", "firmware.campaign.created",
    "firmware.campaign.paused", "firmware.campaign.resumed", "firmware.campaign.aborted",
    "firmware.campaign.batch_started", "firmware.campaign.station"];
  const SVG = "http://www.w3.org/2000/svg";

  function csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  // -- live regions -----------------------------------------------------------------------------------------
  const timers = new Map();
  function later(key, fn, ms) {
    if (timers.has(key)) return;
    timers.set(key, setTimeout(() => { timers.delete(key); fn(); }, ms));
  }

  async function refresh(region) {
    try {
      const answer = await fetch(region.dataset.live, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (answer.ok && !answer.redirected) {
        region.innerHTML = await answer.text();
        region.dispatchEvent(new CustomEvent("live-updated", { bubbles: true }));
      }
    } catch (error) { /* the next event tries again */ }
  }

  function startLive() {
    const regions = Array.from(document.querySelectorAll("[data-live]"));
    const chart = document.getElementById("chart");
    const state = document.getElementById("live-state");
    if (!state) return;
    // A page about one station (its detail, one of its transactions) listens to that station only.
    const scoped = document.querySelector("[data-events-station]");
    const station = scoped ? scoped.dataset.eventsStation : null;
    const url = "/console/events" + (station ? "?station=" + encodeURIComponent(station) : "");
    const source = new EventSource(url);
    source.onopen = () => { state.dataset.state = "open"; state.textContent = "Live updates: on"; };
    source.onerror = () => { state.dataset.state = "retrying"; state.textContent = "Live updates: reconnecting…"; };
    const onEvent = () => {
      // At most one re-read per region every half second, however many events arrive.
      regions.forEach((region, index) => later("region" + index, () => refresh(region), 500));
      if (chart) later("chart", () => reloadChart(chart), 500);
    };
    KINDS.forEach((kind) => source.addEventListener(kind, onEvent));
    window.addEventListener("pagehide", () => source.close());
  }

  // -- command panel ----------------------------------------------------------------------------------------
  function showResult(box, result) {
    box.replaceChildren();
    const line = document.createElement("p");
    if (result.ok) {
      line.className = "ok";
      line.textContent = result.action + ": the station answered";
      const body = document.createElement("pre");
      body.textContent = JSON.stringify(result.response, null, 2);
      box.append(line, body);
    } else {
      line.className = "error";
      line.textContent = "Refused (" + result.status + "): " + (result.error || "");
      box.append(line);
    }
  }

  function startCommands() {
    const box = document.getElementById("command-result");
    // The remote stop's transaction: the first one in progress, once one shows up live.
    const stop = document.getElementById("stop-tx");
    document.addEventListener("live-updated", () => {
      const running = document.querySelector("#active-list [data-transaction-id]");
      if (stop && !stop.value && running) stop.value = running.dataset.transactionId;
    });
    document.querySelectorAll("form[data-command]").forEach((form) => {
      form.addEventListener("submit", async (event) => {
        event.preventDefault();
        const button = form.querySelector("button[type=submit]");
        button.disabled = true;
        box.replaceChildren(Object.assign(document.createElement("p"), { textContent: "Waiting for the station…" }));
        try {
          const answer = await fetch(form.action, {
            method: "POST",
            credentials: "same-origin",
            headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
            body: new URLSearchParams(new FormData(form)),
          });
          const type = answer.headers.get("content-type") || "";
          const body = type.includes("json") ? await answer.json() : { detail: (await answer.text()).slice(0, 200) };
          // The command's result, or an error of the console itself (403: no CSRF token, a viewer's session).
          showResult(box, "ok" in body ? body : { ok: false, status: answer.status, error: body.detail });
        } catch (error) {
          showResult(box, { ok: false, status: 0, error: String(error) });
        } finally {
          button.disabled = false;
        }
      });
    });
  }

  // -- generated command panel (console/command_panel.py) ---------------------------------------------------
  function panelHolder() { return document.getElementById("command-form"); }

  async function swapPanel(answer) {
    const type = answer.headers.get("content-type") || "";
    if (type.includes("text/html") && !answer.redirected) {
      panelHolder().outerHTML = await answer.text();
      return;
    }
    // An error of the console itself (403: a viewer, a missing CSRF token; 404): its detail, in the result box.
    let detail = "";
    try { detail = type.includes("json") ? (await answer.json()).detail : (await answer.text()).slice(0, 200); } catch (error) { /* none */ }
    const box = document.getElementById("panel-result");
    box.replaceChildren(Object.assign(document.createElement("p"), { className: "error", id: "panel-refusal", textContent: "Refused (" + answer.status + "): " + (detail || "") }));
  }

  function startPanel() {
    const picker = document.getElementById("panel-action");
    if (!picker) return;
    picker.addEventListener("change", async () => {
      const action = picker.value;
      if (!action) return;
      try {
        const answer = await fetch(picker.dataset.fragment + encodeURIComponent(action), { credentials: "same-origin", headers: { Accept: "text/html" } });
        if (answer.ok && !answer.redirected) {
          panelHolder().outerHTML = await answer.text();
          history.replaceState(null, "", "?action=" + encodeURIComponent(action));
        }
      } catch (error) { /* the Open button still works */ }
    });
    document.addEventListener("click", (event) => {
      const add = event.target.closest("[data-add]");
      if (add) {
        // A new item from the array's template: its placeholder index becomes the next free one.
        const array = add.closest("[data-array]");
        const template = array.querySelector(":scope > template");
        const next = Number(array.dataset.next || "0");
        array.dataset.next = String(next + 1);
        const html = template.innerHTML.split(array.dataset.placeholder).join(String(next));
        array.querySelector(":scope > .items").insertAdjacentHTML("beforeend", html);
        return;
      }
      const remove = event.target.closest("[data-remove]");
      if (remove) remove.closest("[data-item]").remove();
    });
    document.addEventListener("submit", async (event) => {
      const form = event.target.closest("form[data-panel]");
      if (!form) return;
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      document.getElementById("panel-result").replaceChildren(Object.assign(document.createElement("p"), { textContent: "Waiting for the station…" }));
      try {
        const answer = await fetch(form.action, {
          method: "POST",
          credentials: "same-origin",
          headers: { Accept: "text/html", "X-CSRF-Token": csrfToken(), "X-Fragment": "1" },
          body: new URLSearchParams(new FormData(form)),
        });
        await swapPanel(answer);
      } catch (error) {
        document.getElementById("panel-result").textContent = "Refused: " + String(error);
      } finally {
        if (button && button.isConnected) button.disabled = false;
      }
    });
  }

  // -- message trace (console/trace.py) ---------------------------------------------------------------------
  const TRACE_ROWS = 200;

  function traceRow(frame) {
    const row = document.createElement("tr");
    row.dataset.direction = frame.direction;
    row.dataset.kind = frame.kind;
    row.dataset.action = frame.action || "";
    row.dataset.messageId = frame.messageId;
    let payload = frame.payload;
    try { payload = JSON.stringify(JSON.parse(frame.payload), null, 1); } catch (error) { /* cut: shown as it is */ }
    const cells = [frame.at.slice(11, 23), frame.direction === "in" ? "← in" : "→ out", frame.kind, frame.action || "", frame.messageId];
    cells.forEach((text) => row.append(Object.assign(document.createElement("td"), { textContent: text })));
    const body = document.createElement("td");
    body.append(Object.assign(document.createElement("pre"), { textContent: payload }));
    row.append(body);
    return row;
  }

  function startTrace() {
    const filter = document.getElementById("trace-filter");
    if (!filter) return;
    const rows = document.getElementById("trace-rows");
    const state = document.getElementById("trace-state");
    let source = null;
    let last = 0; // a reconnected stream sends the kept frames again: shown once
    const open = () => {
      if (source) source.close();
      rows.replaceChildren();
      last = 0;
      const params = new URLSearchParams();
      const action = filter.elements.action.value.trim();
      const direction = filter.elements.direction.value;
      if (action) params.set("action", action);
      if (direction) params.set("direction", direction);
      const query = params.toString();
      source = new EventSource(filter.dataset.trace + (query ? "?" + query : ""));
      source.onopen = () => { state.dataset.state = "open"; state.textContent = "live"; };
      source.onerror = () => { state.dataset.state = "retrying"; state.textContent = "reconnecting…"; };
      source.addEventListener("frame", (event) => {
        const frame = JSON.parse(event.data);
        if (frame.seq <= last) return;
        last = frame.seq;
        rows.prepend(traceRow(frame)); // newest first
        while (rows.children.length > TRACE_ROWS) rows.lastElementChild.remove();
      });
    };
    filter.addEventListener("submit", (event) => { event.preventDefault(); open(); });
    filter.elements.direction.addEventListener("change", open);
    window.addEventListener("pagehide", () => { if (source) source.close(); });
    open();
  }

  // -- chart ------------------------------------------------------------------------------------------------
  function el(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    Object.entries(attributes || {}).forEach(([key, value]) => node.setAttribute(key, value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function drawChart(box, data) {
    const width = 800, height = 280, left = 70, right = 60, top = 12, bottom = 34;
    const energy = data.energy.map(([at, wh]) => [Date.parse(at), wh / 1000]);
    const power = data.power.map(([at, w]) => [Date.parse(at), w / 1000]);
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", "aria-hidden": "true" });
    const all = energy.concat(power);
    box.dataset.points = String(energy.length + power.length);
    box.dataset.energyPoints = String(energy.length);
    if (!all.length) {
      svg.append(el("text", { x: width / 2, y: height / 2, "text-anchor": "middle" }, "No meter values yet"));
      box.replaceChildren(svg);
      return;
    }
    const t0 = Math.min(...all.map((p) => p[0])), t1 = Math.max(...all.map((p) => p[0]), t0 + 1000);
    const top0 = energy.length ? energy[0][1] : 0;
    const eMin = energy.length ? Math.min(...energy.map((p) => p[1])) : 0;
    const eMax = Math.max(eMin + 0.001, ...energy.map((p) => p[1]), top0);
    const pMax = Math.max(0.001, ...power.map((p) => p[1]));
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
    const yE = (v) => top + (1 - (v - eMin) / (eMax - eMin)) * (height - top - bottom);
    const yP = (v) => top + (1 - v / pMax) * (height - top - bottom);
    svg.append(el("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
    svg.append(el("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }));
    svg.append(el("line", { class: "axis", x1: width - right, y1: top, x2: width - right, y2: height - bottom }));
    // Energy ticks in Wh while the range is under 1 kWh, else in kWh; power in kW.
    const small = eMax - eMin < 1;
    const energyTick = (v) => (small ? (v * 1000).toFixed(0) + " Wh" : v.toFixed(2) + " kWh");
    for (let i = 0; i <= 4; i++) {
      const e = eMin + ((eMax - eMin) * i) / 4, p = (pMax * i) / 4;
      svg.append(el("text", { x: left - 6, y: yE(e) + 4, "text-anchor": "end" }, energyTick(e)));
      svg.append(el("text", { x: width - right + 6, y: yP(p) + 4 }, p.toFixed(1) + " kW"));
    }
    const clock = (t) => new Date(t).toISOString().slice(11, 19);
    svg.append(el("text", { x: left, y: height - 12 }, clock(t0)));
    svg.append(el("text", { x: width - right, y: height - 12, "text-anchor": "end" }, clock(t1)));
    const path = (points, y) => points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    if (energy.length) svg.append(el("polyline", { class: "energy", points: path(energy, yE) }));
    if (power.length) svg.append(el("polyline", { class: "power", points: path(power, yP) }));
    box.replaceChildren(svg);
  }

  // The EV's state of charge (0-100 %), shown once the meter values carry it.
  function drawSoc(data) {
    const box = document.getElementById("soc-chart");
    const card = document.getElementById("soc-card");
    const soc = (data.soc || []).map(([at, percent]) => [Date.parse(at), percent]);
    if (!box || !card || !soc.length) return;
    card.hidden = false;
    const width = 800, height = 200, left = 70, right = 60, top = 12, bottom = 34;
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", "aria-hidden": "true" });
    box.dataset.points = String(soc.length);
    const t0 = soc[0][0], t1 = Math.max(soc[soc.length - 1][0], t0 + 1000);
    const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
    const y = (v) => top + (1 - v / 100) * (height - top - bottom);
    svg.append(el("line", { class: "axis", x1: left, y1: height - bottom, x2: width - right, y2: height - bottom }));
    svg.append(el("line", { class: "axis", x1: left, y1: top, x2: left, y2: height - bottom }));
    for (let i = 0; i <= 4; i++) svg.append(el("text", { x: left - 6, y: y(i * 25) + 4, "text-anchor": "end" }, i * 25 + " %"));
    const clock = (t) => new Date(t).toISOString().slice(11, 19);
    svg.append(el("text", { x: left, y: height - 12 }, clock(t0)));
    svg.append(el("text", { x: width - right, y: height - 12, "text-anchor": "end" }, clock(t1)));
    const points = soc.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
    svg.append(el("polyline", { class: "soc", points: points }));
    // The latest value, marked and written: a single sample is a dot, not an invisible line.
    const [tn, vn] = soc[soc.length - 1];
    svg.append(el("circle", { class: "soc", cx: x(tn).toFixed(1), cy: y(vn).toFixed(1), r: 4 }));
    svg.append(el("text", { x: width - right + 6, y: y(vn) + 4 }, vn.toFixed(0) + " %"));
    box.replaceChildren(svg);
  }

  async function reloadChart(box) {
    try {
      const answer = await fetch(box.dataset.chart, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!answer.ok || answer.redirected) return;
      const data = await answer.json();
      drawChart(box, data);
      drawSoc(data);
    } catch (error) { /* the next event tries again */ }
  }

  function startChart() {
    const box = document.getElementById("chart");
    const data = document.getElementById("chart-data");
    if (!box || !data) return;
    const parsed = JSON.parse(data.textContent);
    drawChart(box, parsed);
    drawSoc(parsed);
  }

  document.addEventListener("DOMContentLoaded", () => {
    startChart();
    startCommands();
    startPanel();
    startTrace();
    startLive();
  });
})();
