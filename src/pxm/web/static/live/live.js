/* Live operations page: listen to /api/v1/live/stream (server-sent events) and update the figures in place.
   No framework, no network beyond this origin. Text goes in with textContent only. */
(function () {
  "use strict";
  var SPARK_W = 120, SPARK_H = 28;
  function $(id) { return document.getElementById(id); }
  function setText(id, value) { var el = $(id); if (el && el.textContent !== String(value)) { el.textContent = value; } }
  function pct(x) { return x === null || x === undefined ? "\u2013" : (x * 100).toFixed(1) + "%"; }
  function secs(x) { return x === null || x === undefined ? "\u2013" : Number(x).toFixed(1) + " s"; }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  // m:ss, or h:mm:ss from an hour on (the page's template writes it the same way)
  function wait(n) {
    n = Math.max(0, Math.floor(n));
    var m = Math.floor(n / 60);
    return (m >= 60 ? Math.floor(m / 60) + ":" + two(m % 60) : m) + ":" + two(n % 60);
  }
  function dur(x) { return x === null || x === undefined ? "\u2013" : wait(Math.round(x)); }  // AHT, as the template
  function label(code) { return String(code).replace(/_/g, " "); }
  function cell(tag, text, cls) { var c = document.createElement(tag); c.textContent = text; if (cls) { c.className = cls; } return c; }

  function points(values) {
    var vals = values.map(function (v) { return v === null || v === undefined ? 0 : Number(v); });
    if (!vals.length) { return ""; }
    var top = Math.max.apply(null, vals) || 1, step = SPARK_W / Math.max(1, vals.length - 1);
    return vals.map(function (v, i) { return (i * step).toFixed(1) + "," + (SPARK_H - 2 - (v / top) * (SPARK_H - 4)).toFixed(1); }).join(" ");
  }

  function renderQueue(rows) {
    var body = $("queue-body"); if (!body) { return; }
    var prios = body.getAttribute("data-priorities").split(",");
    var frag = document.createDocumentFragment();
    if (!rows.length) {
      var tr = document.createElement("tr"), td = cell("td", "No case is waiting.");
      td.colSpan = prios.length + 2; tr.appendChild(td); frag.appendChild(tr);
    }
    rows.forEach(function (r) {
      var tr = document.createElement("tr");
      var th = cell("th", label(r.reason)); th.scope = "row"; tr.appendChild(th);
      prios.forEach(function (p) { tr.appendChild(cell("td", r[p] || 0, "num")); });
      tr.appendChild(cell("td", r.total, "num"));
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
  }

  function renderRisk(sla) {
    var body = $("risk-body"); if (!body) { return; }
    var frag = document.createDocumentFragment();
    if (!sla.items.length) {
      var tr = document.createElement("tr");
      var td = cell("td", "No case is within " + sla.horizon_minutes + " minutes of its target."); td.colSpan = 6;
      tr.appendChild(td); frag.appendChild(tr);
    }
    var links = body.getAttribute("data-case-links") === "1";  // the viewer may open cases
    sla.items.forEach(function (i) {
      var tr = document.createElement("tr");
      var first = cell("td", links ? "" : "#" + i.case_id);
      if (links) {
        var a = document.createElement("a"); a.href = "/practices/resolution/cases/" + i.case_id;
        a.textContent = "#" + i.case_id; first.appendChild(a);
      }
      tr.appendChild(first);
      [[label(i.reason)], [i.priority], [i.target], [i.minutes_left, "num"],
       [i.assigned ? "yes" : "no"]].forEach(function (c) { tr.appendChild(cell("td", c[0], c[1])); });
      frag.appendChild(tr);
    });
    body.replaceChildren(frag);
  }

  var oldest = null;
  function tick() {
    var el = $("live-longest-wait"); if (!el) { return; }
    el.textContent = oldest ? wait((Date.now() - oldest) / 1000) : "0:00";
  }

  function apply(s) {
    setText("live-as-of", String(s.as_of).slice(11, 19));  // the time of day (ISO 8601 in the desk's zone)
    setText("live-zone", s.as_of_zone);
    var asOf = $("live-as-of"); if (asOf) { asOf.setAttribute("datetime", s.as_of); }
    setText("live-waiting", s.queue.waiting);
    oldest = s.queue.oldest_opened_at ? Date.parse(s.queue.oldest_opened_at) : null;
    tick();
    setText("live-at-risk", s.sla.at_risk);
    setText("live-breached", s.sla.breached);
    setText("live-escalations", s.sla.escalations_waiting);
    Object.keys(s.agents.by_status).forEach(function (k) { setText("live-agents-" + k, s.agents.by_status[k]); });
    var t = s.today;
    setText("live-fcr", pct(t.fcr_rate)); setText("live-aht", dur(t.aht_seconds)); setText("live-asa", secs(t.asa_seconds));
    setText("live-abandon", pct(t.abandonment_rate)); setText("live-sl", pct(t.service_level));
    setText("live-contacts", t.contacts);
    document.querySelectorAll("svg.spark").forEach(function (svg) {
      var key = svg.getAttribute("data-key"), line = svg.querySelector("polyline");
      line.setAttribute("points", points(t.trend.map(function (h) { return h[key]; })));
    });
    renderQueue(s.queue.by_reason);
    renderRisk(s.sla);
    document.body.setAttribute("data-live-version", s.version);
  }

  function status(state, text) { var el = $("live-status"); if (el) { el.setAttribute("data-state", state); el.textContent = text; } }

  var startOldest = $("live-longest-wait");
  if (startOldest && startOldest.getAttribute("data-oldest")) { oldest = Date.parse(startOldest.getAttribute("data-oldest")); }
  setInterval(tick, 1000);

  if (!("EventSource" in window)) { status("static", "Live updates need a newer browser; reload to refresh"); return; }
  var source = new EventSource("/api/v1/live/stream");
  source.addEventListener("snapshot", function (e) {
    try { apply(JSON.parse(e.data)); status("live", "Live"); } catch (err) { status("lost", "Update failed; reload the page"); }
  });
  source.onopen = function () { status("live", "Live"); };
  source.onerror = function () { status("lost", "Reconnecting\u2026"); };
})();
