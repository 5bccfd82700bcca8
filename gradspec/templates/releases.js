(function () {
  "use strict";
  // The release view, the stale version ranges and the score history, from the
  // #gradspec-releases data.  Every element is built with DOM calls and textContent.
  var data = JSON.parse(document.getElementById("gradspec-releases").textContent);
  var SVG = "http://www.w3.org/2000/svg";
  var COLOURS = ["#0969da", "#1a7f37", "#cf222e", "#8250df", "#bf8700", "#1b7c83", "#953800", "#59636e"];

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { el.textContent = attrs[k]; } else { el.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { el.appendChild(c); });
    return el;
  }

  function s(tag, attrs, text) {
    var el = document.createElementNS(SVG, tag);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, String(attrs[k])); });
    if (text !== undefined) { el.textContent = text; }
    return el;
  }

  function renderStaleRanges() {
    var box = document.getElementById("stale-ranges");
    if (!data.stale_ranges.length) { return false; }
    box.appendChild(h("h3", {text: "Stale version ranges (" + data.stale_ranges.length + ")"}));
    box.appendChild(h("p", {"class": "note", text: "Declared choices whose version range claims a release where " +
      "another choice was observed: narrow the entry, or split it where the behaviour changed."}));
    var list = h("ul", {id: "stale-range-list"});
    data.stale_ranges.forEach(function (r) {
      var where = Object.keys(r.observed).map(function (v) { return v + ": " + r.observed[v].join(", "); });
      list.appendChild(h("li", {"data-case": r.case, "data-adapter": r.adapter, text: r.adapter + " " + r.case +
        (r.slot === "choice" ? "" : " (" + r.slot + ")") + ": declared \u201c" + r.declared + "\u201d for versions \u201c" +
        (r.versions || "all") + "\u201d, observed " + where.join("; ")}));
    });
    box.appendChild(list);
    return true;
  }

  function renderTable(t) {
    var box = h("div", {"class": "release-table", "data-adapter": t.adapter});
    box.appendChild(h("h3", {text: t.adapter + ": " + t.changed + " of " + t.rows.length +
      " cells changed between releases " + t.releases.join(", ")}));
    var head = h("tr", {}, ["Case", "Mode", "Device", "dtype"].concat(t.releases, ["Changed in"])
      .map(function (x) { return h("th", {text: x}); }));
    var body = h("tbody");
    t.rows.forEach(function (r) {
      var tr = h("tr", {"data-case": r.case, "class": r.changed_in.length ? "changed" : "same"},
        [r.case, r.mode, r.device, r.dtype].map(function (x) { return h("td", {text: x}); }));
      r.texts.forEach(function (text, i) {
        tr.appendChild(h("td", {"class": r.statuses[i] ? "status-cell s-" + r.statuses[i] : "empty", text: text}));
      });
      tr.appendChild(h("td", {"class": "changed-in", text: r.changed_in.join(", ")}));
      body.appendChild(tr);
    });
    box.appendChild(h("div", {"class": "scroll"}, [h("table", {}, [h("thead", {}, [head]), body])]));
    return box;
  }

  function chart(entry) {
    // x: time of each record, y: score in percent; one line per release (and mode).
    var W = 420, H = 150, L = 36, R = 10, T = 10, B = 24;
    var times = [];
    entry.series.forEach(function (ser) { ser.points.forEach(function (p) { times.push(Date.parse(p.created)); }); });
    var t0 = Math.min.apply(null, times), t1 = Math.max.apply(null, times);
    function x(t) { return t1 === t0 ? L + (W - L - R) / 2 : L + (t - t0) / (t1 - t0) * (W - L - R); }
    function y(p) { return T + (1 - (p.denominator ? p.passed / p.denominator : 0)) * (H - T - B); }
    var svg = s("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img", "class": "history-chart",
                        "data-adapter": entry.adapter});
    svg.appendChild(s("title", {}, "conformance of " + entry.adapter + " over time"));
    [0, 50, 100].forEach(function (pct) {
      var yy = T + (1 - pct / 100) * (H - T - B);
      svg.appendChild(s("line", {x1: L, x2: W - R, y1: yy, y2: yy, stroke: "#d1d9e0"}));
      svg.appendChild(s("text", {x: L - 4, y: yy + 4, "text-anchor": "end", "font-size": 10}, pct + "%"));
    });
    [t0, t1].forEach(function (t, i) {
      svg.appendChild(s("text", {x: x(t), y: H - 6, "text-anchor": i ? "end" : "start", "font-size": 10},
                        new Date(t).toISOString().slice(0, 10)));
    });
    entry.series.forEach(function (ser, i) {
      var colour = COLOURS[i % COLOURS.length];
      var pts = ser.points.map(function (p) { return x(Date.parse(p.created)) + "," + y(p); });
      svg.appendChild(s("polyline", {points: pts.join(" "), fill: "none", stroke: colour, "stroke-width": 2,
                                     "data-series": ser.label, "data-points": ser.points.length}));
      ser.points.forEach(function (p) {
        var dot = s("circle", {cx: x(Date.parse(p.created)), cy: y(p), r: 3, fill: colour});
        dot.appendChild(s("title", {}, ser.label + " " + p.created + ": " + p.passed + "/" + p.denominator +
                                        " (commit " + p.commit + ")"));
        svg.appendChild(dot);
      });
    });
    var legend = h("p", {"class": "history-legend"});
    entry.series.forEach(function (ser, i) {
      var last = ser.points[ser.points.length - 1];
      legend.appendChild(h("span", {style: "color:" + COLOURS[i % COLOURS.length],
        text: "\u25a0 " + ser.label + ": " + last.passed + "/" + last.denominator + "  "}));
    });
    return h("figure", {"class": "history"}, [h("figcaption", {text: entry.adapter}), svg, legend]);
  }

  var shown = renderStaleRanges();
  var tables = document.getElementById("releases");
  data.tables.forEach(function (t) { tables.appendChild(renderTable(t)); });
  document.getElementById("releases-section").hidden = !(shown || data.tables.length);
  var history = document.getElementById("history");
  data.history.forEach(function (entry) { history.appendChild(chart(entry)); });
  document.getElementById("history-section").hidden = !data.history.length;
  document.body.setAttribute("data-releases-ready", "true");
})();
