(function () {
  "use strict";
  // Every element is built with createElement and textContent: record text is data, never markup.
  var data = JSON.parse(document.getElementById("gradspec-data").textContent);
  var results = data.results, cases = data.cases, columns = data.columns, groups = data.groups;
  var WORST_FIRST = ["CRASH", "ERROR", "FAIL", "TIMEOUT", "MISSING", "XFAIL", "UNSUPPORTED", "SKIP",
                     "REFERENCE", "PASS"];
  var MEANING = {
    PASS: "matches the statement", FAIL: "does not match the statement", ERROR: "the adapter or harness broke",
    CRASH: "the process died", TIMEOUT: "ran out of time",
    MISSING: "should have been reported and was not (a lost CI job, or a run that ended early)",
    XFAIL: "failed exactly as a listed known bug", XPASS: "a listed known bug that no longer fails: a stale entry",
    UNSUPPORTED: "the adapter lacks a capability the case requires",
    SKIP: "not runnable here (framework not installed, no device)",
    REFERENCE: "the oracle judged against itself: a reference, not a pass"
  };
  var FILTERS = ["tag", "kind", "status", "adapter", "q"];
  var state = {};
  var rows = [];          // {index, tr, area, cells: [{index, td}]}
  var areaRows = {};      // area -> tr
  var adapterCells = [];  // every th/td that belongs to one adapter's column
  var choiceRows = [];    // {caseIndex, tr}
  var cellTd = {};        // result index -> td

  function h(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      var v = props[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k === "text") { node.textContent = String(v); }
      else if (k === "cls") { node.className = v; }
      else if (k === "onclick") { node.addEventListener("click", v); }
      else { node.setAttribute(k, String(v)); }
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) { node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); }
    });
    return node;
  }

  function link(url, label) {
    // Only plain http(s) URLs become links; anything else (javascript:, data:) stays text.
    if (/^https?:\/\/[^\s]+$/i.test(url)) {
      return h("a", {href: url, target: "_blank", rel: "noopener noreferrer", text: label || url});
    }
    return h("span", {text: url});
  }

  function badge(status, short) {
    return h("span", {cls: "status s-" + status, title: status + ": " + (MEANING[status] || ""),
                      text: short ? data.short[status] || status : status});
  }

  function worst(statuses) {
    for (var i = 0; i < WORST_FIRST.length; i++) {
      if (statuses.indexOf(WORST_FIRST[i]) >= 0) { return WORST_FIRST[i]; }
    }
    return statuses[0];
  }

  function unique(list) {
    return list.filter(function (x, i) { return list.indexOf(x) === i; });
  }

  function groupLabel(g) { return g.adapter + " " + g.version + (g.mode && g.mode !== "eager" ? " " + g.mode : ""); }

  // -- outcomes as text -------------------------------------------------
  function scalar(v) { return Array.isArray(v) ? scalar(v[0]) + "+" + scalar(v[1]) + "j" : String(v); }

  function describeArray(a) {
    if (!a.shape.length) { return a.dtype + " " + scalar(a.data[0]); }
    var shown = a.data.slice(0, 12).map(scalar).join(", ") + (a.data.length > 12 ? ", ..." : "");
    return a.dtype + "[" + a.shape.join("x") + "] [" + shown + "]";
  }

  function describeOutcome(o) {
    if (o === null || o === undefined) { return "(none)"; }
    if (o.outcome === "List") { return "[" + o.items.map(describeOutcome).join(", ") + "]"; }
    if (o.outcome === "Dict") {
      return "{" + Object.keys(o.items).map(function (k) { return k + ": " + describeOutcome(o.items[k]); }).join(", ") + "}";
    }
    switch (o.outcome) {
      case "Value": return "Value " + describeArray(o.array);
      case "Absent": return "Absent (None)";
      case "Zeros": return "Zeros" + (o.shape ? " [" + o.shape.join("x") + "]" : "") + (o.dtype ? " " + o.dtype : "");
      case "Sparse": return "Sparse indices " + describeArray(o.indices) + ", values " + describeArray(o.values) +
        ", dense_shape [" + o.dense_shape.join("x") + "]";
      case "Raised": return "Raised " + o.kind + " (" + o.native_type + ": " + o.message + ")";
      case "Info": return "Info " + JSON.stringify(o.value);
      default: return JSON.stringify(o);
    }
  }

  function describeExpect(e) {
    if (e === null || e === undefined) { return "(none)"; }
    if (e.expect === "List") { return "[" + e.items.map(describeExpect).join(", ") + "]"; }
    if (e.expect === "Dict") {
      return "{" + Object.keys(e.items).map(function (k) { return k + ": " + describeExpect(e.items[k]); }).join(", ") + "}";
    }
    switch (e.expect) {
      case "Value": return "Value from " + e.source + " " + describeArray(e.array) + (e.form && e.form !== "any" ? " (" + e.form + ")" : "");
      case "Absent": return "Absent (None)";
      case "Zeros": return "Zeros";
      case "Raised": return "Raised " + e.kind;
      case "Info": return "Info " + JSON.stringify(e.value);
      case "OneOf": return "one of (" + e.slot + "): " + Object.keys(e.options).map(function (k) {
        return k + " = " + describeExpect(e.options[k]);
      }).join("; ");
      case "Derived": return "Derived from the framework's own parameters (NumPy float64)";
      case "DotProduct": return "dot-product test: <J t, c> = " + scalar(e.value);
      default: return JSON.stringify(e);
    }
  }

  // -- header, scores, legend -----------------------------------------
  function renderHeader() {
    var m = data.meta, s = m.suite, host = m.host;
    document.getElementById("meta").textContent = "Suite " + s.version + " at commit " + s.commit +
      (s.dirty ? " (dirty tree)" : "") + ", run " + m.created + " on " + host.hostname + " (" + host.platform +
      ", Python " + host.python + ")" + (m.merged_from.length ? "; merged from " + m.merged_from.length +
      " records: " + m.merged_from.map(function (x) { return x.file; }).join(", ") : "") + ".";
    var totals = document.getElementById("totals");
    totals.appendChild(document.createTextNode(m.summary.total + " results, " + m.summary.executed + " executed: "));
    data.statuses.forEach(function (st) {
      if (m.summary.counts[st]) { totals.appendChild(badge(st)); totals.appendChild(document.createTextNode(" " + m.summary.counts[st] + "  ")); }
    });
    if (!m.summary.executed) { totals.appendChild(h("strong", {text: " Nothing executed: this run is not green."})); }
  }

  // Where the adapter came from: shipped with gradspec, an installed package, or named on the command line.
  function origin(g) {
    var where = {"builtin": "built-in", "entry-point": "entry point", "explicit": "command line"}[g.origin];
    if (!where) { return ""; }
    return g.origin === "builtin" || !g.target ? where : where + " (" + g.target + ")";
  }

  function renderScores() {
    var present = data.statuses.filter(function (st) { return data.meta.summary.counts[st]; });
    var table = document.getElementById("scores");
    table.appendChild(h("thead", {}, [h("tr", {}, ["Adapter", "Mode", "Framework", "Origin", "Version", "Devices", "Score"].concat(present)
      .map(function (t) { return h("th", {text: t}); }).concat([h("th", {text: "Declared choices"}),
        h("th", {text: "Note"})]))]));
    var body = h("tbody");
    groups.forEach(function (g) {
      var pct = g.denominator ? Math.round(100 * g.passed / g.denominator) : 0;
      var score = h("td", {cls: "num"}, [g.passed + "/" + g.denominator + (g.denominator ? " (" + pct + "%)" : ""),
        h("span", {cls: "bar"}, [h("span", {style: "width:" + pct + "%"})])]);
      var tr = h("tr", {"data-adapter": g.adapter}, [h("th", {text: g.adapter}),
        h("td", {cls: "mode", text: g.mode, title: g.mode_info || ""}), h("td", {text: g.framework}),
        h("td", {cls: "origin", text: origin(g)}), h("td", {text: g.version}), h("td", {text: g.devices.join(", ")}), score]);
      present.forEach(function (st) { tr.appendChild(h("td", {cls: "num", text: g.counts[st] || ""})); });
      tr.appendChild(h("td", {cls: "bases", title: "documented: a quoted sentence; source: the implementing line " +
        "at a release tag; observed: only the run", text: ["documented", "source", "observed"].map(function (b) {
          return b + " " + (g.bases[b] || 0);
        }).join(", ")}));
      var notes = g.available ? [] : ["unavailable: " + (g.reason || "")];
      g.stale_claims.forEach(function (c) {
        notes.push((c.kind === "claimed_but_failing" ? "declares " + c.capability + ", but every case needing it fails"
          : "does not declare " + c.capability + ", yet cases needing it pass") + " (" + c.cases.join(", ") + ")");
      });
      tr.appendChild(h("td", {text: notes.join("; ")}));
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  function renderLegend() {
    var legend = document.getElementById("legend");
    data.statuses.forEach(function (st) {
      legend.appendChild(badge(st, true));
      legend.appendChild(document.createTextNode(" " + st.toLowerCase() + ": " + MEANING[st] + ".  "));
    });
  }

  // -- matrix ---------------------------------------------------------
  function spans(keyOf) {
    var out = [];
    columns.forEach(function (c) {
      var key = keyOf(c);
      if (out.length && out[out.length - 1].key === key) { out[out.length - 1].n++; }
      else { out.push({key: key, col: c, n: 1}); }
    });
    return out;
  }

  function renderMatrix() {
    var table = document.getElementById("matrix");
    var head = h("thead");
    var r1 = h("tr", {}, [h("th", {rowspan: 3, text: "Case"})]);
    spans(function (c) { return c.group; }).forEach(function (s) {
      var th = h("th", {colspan: s.n, "data-adapter": s.col.adapter, text: groupLabel(groups[s.col.group])});
      adapterCells.push(th); r1.appendChild(th);
    });
    var r2 = h("tr");
    spans(function (c) { return c.group + "\u0000" + c.device; }).forEach(function (s) {
      var th = h("th", {colspan: s.n, "data-adapter": s.col.adapter, text: s.col.device});
      adapterCells.push(th); r2.appendChild(th);
    });
    var r3 = h("tr");
    columns.forEach(function (c) {
      var th = h("th", {"data-adapter": c.adapter, text: c.dtype});
      adapterCells.push(th); r3.appendChild(th);
    });
    [r1, r2, r3].forEach(function (r) { head.appendChild(r); });
    table.appendChild(head);

    var at = {};
    results.forEach(function (r, i) { at[r.row + ":" + r.col] = i; });
    var body = h("tbody");
    var perArea = {};
    cases.forEach(function (c) { perArea[c.area] = (perArea[c.area] || 0) + 1; });
    cases.forEach(function (c, ci) {
      if (!areaRows[c.area]) {
        areaRows[c.area] = h("tr", {cls: "area"}, [h("th", {colspan: columns.length + 1,
          text: c.area + " (" + perArea[c.area] + " case" + (perArea[c.area] === 1 ? "" : "s") + ")"})]);
        body.appendChild(areaRows[c.area]);
      }
      var tags = c.tags.map(function (t) {
        return h("button", {type: "button", cls: "tag", title: "show only tag " + t, text: t,
                            onclick: function () { setFilter("tag", t); }});
      });
      var th = h("th", {cls: "case", scope: "row"}, [h("span", {cls: "case-id", text: c.id}),
        h("span", {cls: "kind kind-" + c.kind, text: c.kind}), h("div", {cls: "statement", text: c.statement}),
        h("div", {}, tags)]);
      var tr = h("tr", {"data-case": c.id}, [th]);
      var row = {index: ci, tr: tr, area: c.area, cells: []};
      columns.forEach(function (col, coli) {
        var i = at[ci + ":" + coli];
        var td;
        if (i === undefined) {
          td = h("td", {cls: "empty", "data-adapter": col.adapter, title: "no result: not run in this column"});
        } else {
          var r = results[i];
          var choice = Object.keys(r.choices).map(function (k) { return r.choices[k]; }).join(" / ");
          td = h("td", {cls: "cell s-" + r.status, "data-adapter": col.adapter, "data-status": r.status,
                        "data-result": i}, [h("button", {type: "button", title: r.status + ": " + r.message,
            "aria-label": c.id + " on " + groupLabel(groups[r.group]) + " " + r.device + " " + r.dtype + ": " + r.status,
            onclick: function () { setFilter("cell", String(i)); }},
            [data.short[r.status] || r.status, choice ? h("span", {cls: "choice", text: choice}) : null])]);
          row.cells.push({index: i, td: td});
          cellTd[i] = td;
        }
        adapterCells.push(td);
        tr.appendChild(td);
      });
      rows.push(row);
      body.appendChild(tr);
    });
    table.appendChild(body);
  }

  // -- implementation-defined choices, side by side --------------------
  function renderChoices() {
    var table = document.getElementById("choices");
    var byCaseGroup = {};
    results.forEach(function (r, i) {
      var key = r.row + ":" + r.group;
      (byCaseGroup[key] = byCaseGroup[key] || []).push(i);
    });
    var head = h("tr", {}, [h("th", {text: "Case"}), h("th", {text: "Slot"}), h("th", {text: "Allowed"})]);
    groups.forEach(function (g) {
      var th = h("th", {"data-adapter": g.adapter, text: groupLabel(g)});
      adapterCells.push(th); head.appendChild(th);
    });
    table.appendChild(h("thead", {}, [head]));
    var body = h("tbody");
    cases.forEach(function (c, ci) {
      if (c.kind !== "implementation-defined") { return; }
      var slotNames = Object.keys(c.slots);
      groups.forEach(function (g, gi) {
        (byCaseGroup[ci + ":" + gi] || []).forEach(function (i) {
          Object.keys(results[i].choices).forEach(function (s) { if (slotNames.indexOf(s) < 0) { slotNames.push(s); } });
        });
      });
      slotNames.forEach(function (slot) {
        var tr = h("tr", {"data-case": c.id}, [h("th", {cls: "case", scope: "row"}, [h("span", {cls: "case-id", text: c.id}),
          h("div", {cls: "statement", text: c.statement})]), h("td", {text: slot}),
          h("td", {text: (c.slots[slot] || []).join(", ")})]);
        groups.forEach(function (g, gi) {
          var idx = byCaseGroup[ci + ":" + gi] || [];
          tr.appendChild(choiceCell(idx, slot, g));
        });
        choiceRows.push({caseIndex: ci, tr: tr});
        body.appendChild(tr);
      });
    });
    table.appendChild(body);
    if (!choiceRows.length) { document.getElementById("choices-section").hidden = true; }
  }

  function choiceCell(idx, slot, g) {
    if (!idx.length) {
      var none = h("td", {cls: "empty", "data-adapter": g.adapter, title: "not run"});
      adapterCells.push(none);
      return none;
    }
    var rs = idx.map(function (i) { return results[i]; });
    var statuses = unique(rs.map(function (r) { return r.status; }));
    var status = worst(statuses);
    var observed = unique(rs.filter(function (r) { return r.choices[slot] !== undefined; })
      .map(function (r) { return r.choices[slot]; }));
    var declared = rs.map(function (r) { return r.declared[slot]; }).filter(function (d) { return d; });
    var documented = unique(declared.map(function (d) { return d.choice; }));
    var versions = unique(declared.map(function (d) { return d.versions; }));
    var children = [h("span", {cls: "choice-label", text: observed.length ? observed.join(" / ") : status})];
    var differs = documented.filter(function (d) { return observed.indexOf(d) < 0; });
    if (differs.length) { children.push(h("span", {cls: "small", text: "declared: " + differs.join(" / ")})); }
    if (statuses.length > 1 || status !== "PASS") {
      children.push(h("span", {cls: "small", text: statuses.join(", ")}));
    }
    if (versions.length) { children.push(h("span", {cls: "small", text: "versions " + versions.join(", ")})); }
    var seen = {};
    declared.forEach(function (d) {
      var key = JSON.stringify([d.basis, d.doc, d.quote]);
      if (!seen[key]) { seen[key] = true; children.push(h("span", {cls: "small basis"}, basisNodes(d))); }
    });
    var pick = idx.filter(function (i) { return results[i].status === status; })[0];
    var td = h("td", {cls: "choice-cell s-" + status, "data-adapter": g.adapter, "data-status": status,
                      title: "open the detail", onclick: function (e) {
                        if (e.target.tagName !== "A") { setFilter("cell", String(pick)); }
                      }}, children);
    adapterCells.push(td);
    return td;
  }

  // What a declared choice rests on; a link only where someone read it there.
  function basisNodes(d) {
    if (d.basis === "documented") {
      return ["documented: ", link(d.doc, "documentation"), d.quote ? h("q", {text: d.quote}) : null];
    }
    if (d.basis === "source") { return ["source: ", link(d.doc, "implementing line")]; }
    return [d.basis || "basis not stated"];
  }

  // -- detail --------------------------------------------------------------
  function dl(pairs) {
    var list = h("dl");
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === "") { return; }
      list.appendChild(h("dt", {text: p[0]}));
      list.appendChild(h("dd", {}, [typeof p[1] === "object" ? p[1] : String(p[1])]));
    });
    return list;
  }

  // Where each Raised answer raised: [label, traceback] for every one that kept its traceback.
  function raisedTraces(items) {
    var found = [];
    function walk(o, where) {
      if (!o) { return; }
      if (o.outcome === "List") { o.items.forEach(function (x, j) { walk(x, where + "[" + j + "]"); }); return; }
      if (o.outcome === "Dict") { Object.keys(o.items).forEach(function (k) { walk(o.items[k], where + "[" + k + "]"); }); return; }
      if (o.outcome === "Raised" && o.traceback) { found.push([where + ": " + o.native_type, o.traceback]); }
    }
    (items || []).forEach(function (o, j) { walk(o, "request " + j); });
    return found;
  }

  function requestList(items, describe) {
    if (items === null || items === undefined) { return h("p", {text: "(none)"}); }
    return h("ol", {}, items.map(function (x) { return h("li", {text: describe(x)}); }));
  }

  function openDetail(i) {
    var panel = document.getElementById("detail");
    var r = results[i];
    if (!r) { closeDetail(); return; }
    var c = cases[r.row], g = groups[r.group];
    Object.keys(cellTd).forEach(function (k) { cellTd[k].classList.remove("selected"); });
    if (cellTd[i]) { cellTd[i].classList.add("selected"); }
    panel.textContent = "";
    panel.appendChild(h("button", {type: "button", cls: "close", text: "Close", onclick: function () { setFilter("cell", ""); }}));
    panel.appendChild(h("h2", {text: c.id}));
    panel.appendChild(h("p", {}, [badge(r.status), r.fail_kind ? " " + r.fail_kind : "", " ",
      h("span", {cls: "kind kind-" + c.kind, text: c.kind})]));
    panel.appendChild(h("p", {text: c.statement}));
    if (r.message) {
      panel.appendChild(h("h3", {text: "Why"}));
      panel.appendChild(h("p", {text: r.message}));
    }
    panel.appendChild(h("h3", {text: "Documentation"}));
    panel.appendChild(c.docs.length ? h("ul", {}, c.docs.map(function (d) {
      return h("li", {}, [link(d.url), d.quote ? h("blockquote", {text: d.quote}) : null]);
    })) : h("p", {text: "(no link recorded)"}));
    panel.appendChild(h("h3", {text: "Cell"}));
    panel.appendChild(dl([["Adapter", r.adapter], ["Framework", g.framework], ["Version", r.framework_version],
      ["Device", r.device], ["dtype", r.dtype], ["Tags", c.tags.join(", ")], ["Requires", c.requires.join(", ")],
      ["Source", c.file + (c.line ? ":" + c.line : "")], ["Node id", r.nodeid], ["Worker", r.worker],
      ["Duration", r.duration_s + " s"],
      ["Stale denial", (r.stale_denial || []).length ? "does not declare " + r.stale_denial.join(", ") +
        ", yet this case passed" : ""]]));
    var slots = unique(Object.keys(r.choices).concat(Object.keys(r.declared)));
    if (slots.length) {
      panel.appendChild(h("h3", {text: "Implementation-defined choice"}));
      var t = h("table", {}, [h("tr", {}, ["Slot", "Observed", "Declared", "Versions", "Basis"].map(function (x) {
        return h("th", {text: x});
      }))]);
      slots.forEach(function (s) {
        var d = r.declared[s] || {};
        t.appendChild(h("tr", {}, [h("td", {text: s}), h("td", {text: r.choices[s] || "-"}),
          h("td", {text: d.choice || "-"}), h("td", {text: d.versions || "-"}), h("td", {}, d.choice ? basisNodes(d) : ["-"])]));
      });
      panel.appendChild(t);
    }
    panel.appendChild(h("h3", {text: "Expected and observed"}));
    panel.appendChild(h("div", {cls: "side-by-side"}, [
      h("div", {}, [h("strong", {text: "Expected"}), requestList(r.expected, describeExpect)]),
      h("div", {}, [h("strong", {text: "Observed"}), requestList(r.observed, describeOutcome)])]));
    raisedTraces(r.observed).forEach(function (t) {
      panel.appendChild(h("details", {cls: "raised-trace", open: "open"}, [h("summary", {text: "Raised at " + t[0]}),
        h("pre", {text: t[1]})]));
    });
    panel.appendChild(h("details", {}, [h("summary", {text: "as recorded (JSON)"}),
      h("pre", {text: JSON.stringify({expected: r.expected, observed: r.observed}, null, 1)})]));
    panel.appendChild(h("h3", {text: "Tolerance"}));
    panel.appendChild(r.tolerance || r.max_abs_err !== null ? dl([
      ["rtol", r.tolerance ? r.tolerance.rtol : null], ["atol", r.tolerance ? r.tolerance.atol : null],
      ["max abs err", r.max_abs_err], ["max rel err", r.max_rel_err]]) : h("p", {text: "(no numeric comparison)"}));
    if (r.error) {
      panel.appendChild(h("h3", {text: "Error"}));
      panel.appendChild(dl([["Type", r.error.type], ["Message", r.error.message]]));
      panel.appendChild(h("pre", {text: r.error.traceback}));
    }
    panel.appendChild(h("h3", {text: "Reproduce"}));
    var pre = h("pre", {id: "repro", text: r.repro});
    var copy = h("button", {type: "button", text: "Copy", onclick: function () { copyText(pre, copy); }});
    panel.appendChild(pre);
    panel.appendChild(copy);
    panel.hidden = false;
  }

  function copyText(pre, button) {
    function selectIt() {
      window.getSelection().selectAllChildren(pre);
      button.textContent = "Selected: press Ctrl+C";
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(pre.textContent).then(function () { button.textContent = "Copied"; }, selectIt);
    } else {
      selectIt();
    }
  }

  function closeDetail() {
    document.getElementById("detail").hidden = true;
    Object.keys(cellTd).forEach(function (k) { cellTd[k].classList.remove("selected"); });
  }

  // -- filters ---------------------------------------------------------------
  function fillSelect(id, label, values) {
    var select = document.getElementById(id);
    select.appendChild(h("option", {value: "", text: "all " + label}));
    values.forEach(function (v) { select.appendChild(h("option", {value: v, text: v})); });
    select.addEventListener("change", function () { setFilter(select.name, select.value); });
  }

  function renderFilters() {
    var tags = [];
    cases.forEach(function (c) { tags = tags.concat(c.tags); });
    fillSelect("f-tag", "tags", unique(tags).sort());
    fillSelect("f-kind", "kinds", unique(cases.map(function (c) { return c.kind; })).sort());
    fillSelect("f-status", "statuses", data.statuses.filter(function (s) { return data.meta.summary.counts[s]; }));
    fillSelect("f-adapter", "adapters", unique(groups.map(function (g) { return g.adapter; })));
    var q = document.getElementById("f-q");
    q.addEventListener("input", function () { setFilter("q", q.value); });
    document.getElementById("f-reset").addEventListener("click", function () {
      FILTERS.forEach(function (f) { state[f] = ""; });
      update();
    });
  }

  function readHash() {
    var params = new URLSearchParams(location.hash.replace(/^#/, ""));
    FILTERS.concat(["cell"]).forEach(function (f) { state[f] = params.get(f) || ""; });
  }

  function writeHash() {
    var params = new URLSearchParams();
    FILTERS.concat(["cell"]).forEach(function (f) { if (state[f]) { params.set(f, state[f]); } });
    var hash = params.toString();
    if (location.hash.replace(/^#/, "") === hash) { return; }
    try {
      history.replaceState(null, "", hash ? "#" + hash : location.pathname + location.search);
    } catch (e) {
      location.hash = hash;  // some browsers refuse replaceState on file: URLs
    }
  }

  function setFilter(name, value) {
    state[name] = value;
    update();
  }

  function caseMatches(c) {
    var q = state.q.toLowerCase();
    return (!state.tag || c.tags.indexOf(state.tag) >= 0) && (!state.kind || c.kind === state.kind) &&
      (!q || c.id.toLowerCase().indexOf(q) >= 0 || c.statement.toLowerCase().indexOf(q) >= 0);
  }

  function apply() {
    var shown = 0, areaShown = {};
    rows.forEach(function (row) {
      var rowOk = caseMatches(cases[row.index]);
      var any = false;
      row.cells.forEach(function (cell) {
        var r = results[cell.index];
        var statusOk = !state.status || r.status === state.status;
        var visible = rowOk && statusOk && (!state.adapter || r.adapter === state.adapter);
        cell.td.classList.toggle("dim", !statusOk);
        cell.td.setAttribute("data-shown", visible ? "true" : "false");
        if (visible) { any = true; shown++; }
      });
      var showRow = rowOk && (any || (!row.cells.length && !state.status && !state.adapter));
      row.tr.setAttribute("data-hidden", showRow ? "false" : "true");
      if (showRow) { areaShown[row.area] = true; }
    });
    Object.keys(areaRows).forEach(function (a) { areaRows[a].setAttribute("data-hidden", areaShown[a] ? "false" : "true"); });
    adapterCells.forEach(function (node) {
      node.setAttribute("data-hidden", state.adapter && node.getAttribute("data-adapter") !== state.adapter ? "true" : "false");
    });
    choiceRows.forEach(function (cr) {
      cr.tr.setAttribute("data-hidden", caseMatches(cases[cr.caseIndex]) ? "false" : "true");
    });
    document.querySelectorAll("#scores tbody tr").forEach(function (tr) {
      tr.setAttribute("data-hidden", state.adapter && tr.getAttribute("data-adapter") !== state.adapter ? "true" : "false");
    });
    FILTERS.forEach(function (f) {
      var input = document.getElementById("f-" + f);
      if (input.value !== state[f]) { input.value = state[f]; }
    });
    document.getElementById("visible-count").textContent = "Showing " + shown + " of " + results.length + " results";
    document.body.setAttribute("data-shown-cells", String(shown));
    if (state.cell) { openDetail(Number(state.cell)); } else { closeDetail(); }
  }

  function update() {
    apply();
    writeHash();
  }

  // -- eager versus compiled (rows computed in gradspec/mode_diff.py) ---------
  function renderModes() {
    var diffs = data.mode_differences;
    if (!diffs.length) { document.getElementById("modes-section").hidden = true; return; }
    var table = document.getElementById("modes");
    table.appendChild(h("thead", {}, [h("tr", {}, ["Case", "Adapter", "Mode", "Cells", "Eager", "Compiled"]
      .map(function (t) { return h("th", {text: t}); }))]));
    var lines = function (texts) { return h("td", {}, texts.map(function (t) { return h("div", {text: t}); })); };
    table.appendChild(h("tbody", {}, diffs.map(function (d) {
      return h("tr", {"data-case": d.case, "data-adapter": d.adapter}, [h("th", {cls: "case", scope: "row", text: d.case}),
        h("td", {text: d.adapter + " " + d.version}), h("td", {text: d.mode}), h("td", {text: d.cells.join(", ")}),
        lines(d.eager), lines(d.compiled)]);
    })));
  }

  function renderWarnings() {
    var list = document.getElementById("warnings");
    data.meta.warnings.forEach(function (w) { list.appendChild(h("li", {text: w})); });
    if (!data.meta.warnings.length) { document.getElementById("warnings-section").hidden = true; }
  }

  renderHeader();
  renderScores();
  renderFilters();
  renderLegend();
  renderMatrix();
  renderChoices();
  renderModes();
  renderWarnings();
  readHash();
  apply();
  window.addEventListener("hashchange", function () { readHash(); apply(); });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && state.cell) { setFilter("cell", ""); } });
  document.body.setAttribute("data-ready", "true");
})();
