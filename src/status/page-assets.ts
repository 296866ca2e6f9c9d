import type { PageAssets } from "./html.js";

/**
 * The style and the script of the status pages, inlined into each page (the site makes no
 * request of its own). The script only adds to a page that is complete without it: the filter
 * box, sortable columns, copy buttons. With JavaScript off the tables are all there, unsorted by
 * hand and unfiltered.
 *
 * The names table (`#t`) is laid out as a grid of rows rather than as a CSS table: a table's
 * layout is one computation over all of its 5,000 rows (about 3 s in Chromium on a busy two-core
 * machine, again after each sort), while independent rows let `content-visibility: auto` skip
 * every row off screen, so loading, filtering and sorting cost what is visible.
 */

const CSS = `
:root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--mute:#59636e;--line:#d1d9e0;--head:#f6f8fa;--bad:#b42318;--badbg:#fef3f2;--ok:#1a7f37;--link:#0969da}
@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--mute:#9198a1;--line:#3d444d;--head:#151b23;--bad:#ff7b72;--badbg:#2a1215;--ok:#3fb950;--link:#4493f8}}
body{margin:0 auto;max-width:1680px;padding:1rem 1.5rem 3rem;font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;background:var(--bg);color:var(--fg)}
a{color:var(--link)}
h1{font-size:1.6rem;margin:.3rem 0}
h2{font-size:1.2rem;margin:1.6rem 0 .5rem}
h3{font-size:1rem;margin:1rem 0 .3rem}
code,pre,.m{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.9em}
.mute{color:var(--mute)}
.bad{color:var(--bad);font-weight:600}
.ok{color:var(--ok)}
dl.facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(12rem,1fr));gap:.6rem;margin:1rem 0}
dl.facts div{border:1px solid var(--line);border-radius:6px;padding:.45rem .75rem}
dl.facts dt{color:var(--mute);font-size:.8rem}
dl.facts dd{margin:0;font-size:1.15rem;font-weight:600;overflow-wrap:anywhere}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dl.kv dt{color:var(--mute)}
dl.kv dd{margin:0;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:.28rem .5rem;border-bottom:1px solid var(--line);vertical-align:top;overflow-wrap:anywhere}
th{background:var(--head);position:sticky;top:0;font-weight:600;overflow-wrap:normal}
th button{all:unset;cursor:pointer}
th button:focus-visible{outline:2px solid var(--link)}
th[aria-sort=ascending] button::after{content:" \\25B2"}
th[aria-sort=descending] button::after{content:" \\25BC"}
table.fail td{background:var(--badbg)}
#t,#t thead,#t tbody{display:block}
#t thead{position:sticky;top:0;z-index:1}
#t tr{display:grid;grid-template-columns:17% 5.5% 8% 7.5% 6.5% 5% 5.5% 10.5% 10.5% 24%;border-bottom:1px solid var(--line)}
#t tbody tr{content-visibility:auto;contain-intrinsic-size:auto 2.4em}
#t tr[hidden]{display:none}
#t th,#t td{border-bottom:0}
#t th{position:static}
#t td:nth-child(5),#t td:nth-child(8),#t td:nth-child(9),table.fail td:nth-child(2){white-space:nowrap}
#t td:nth-child(3),#t td:nth-child(10){font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.88em}
#t td:nth-child(5),#t td:nth-child(6),#t th:nth-child(5),#t th:nth-child(6){text-align:right}
.filter{display:flex;gap:1rem;align-items:center;margin:.5rem 0}
#q{font:inherit;padding:.35rem .6rem;min-width:22rem;border:1px solid var(--line);border-radius:6px;background:var(--bg);color:var(--fg)}
#q[hidden]{display:none}
pre{background:var(--head);border:1px solid var(--line);border-radius:6px;padding:.5rem .75rem;white-space:pre-wrap;overflow-wrap:anywhere;margin:.3rem 0}
.cmd{display:flex;gap:.5rem;align-items:flex-start}
.cmd pre{flex:1}
.cmd button{font:inherit;padding:.3rem .7rem;margin-top:.3rem}
.name{border:1px solid var(--line);border-radius:6px;padding:.2rem 1rem .6rem;margin:.8rem 0}
.name:target{border-color:var(--link);box-shadow:0 0 0 2px var(--link)}
footer{margin-top:2rem;color:var(--mute)}
`.trim();

const JS = `
(function () {
  "use strict";
  var table = document.getElementById("t");
  if (table) {
    var body = table.tBodies[0];
    var items = Array.prototype.map.call(body.rows, function (row) { return { row: row, text: null }; });
    var input = document.getElementById("q");
    var count = document.getElementById("count");
    var total = items.length;
    var textOf = function (item) {
      if (item.text === null) {
        item.text = Array.prototype.map.call(item.row.cells, function (c) { return c.textContent; }).join("\\n").toLowerCase();
      }
      return item.text;
    };
    var filter = function () {
      var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
      var shown = 0;
      for (var i = 0; i < items.length; i++) {
        var item = items[i];
        var hit = true;
        for (var w = 0; w < words.length && hit; w++) hit = textOf(item).indexOf(words[w]) >= 0;
        if (item.row.hidden === hit) item.row.hidden = !hit;
        if (hit) shown++;
      }
      count.textContent = words.length ? shown + " of " + total + " names" : total + " names";
      var hash = words.length ? "#q=" + encodeURIComponent(input.value) : "";
      if (location.hash !== hash) history.replaceState(null, "", hash || location.pathname + location.search);
    };
    input.hidden = false;
    input.addEventListener("input", filter);
    var m = /^#q=(.*)$/.exec(location.hash);
    if (m) {
      try { input.value = decodeURIComponent(m[1]); } catch (e) { input.value = ""; }
      filter();
    }
    var UNITS = { B: 1, KiB: 1024, MiB: 1048576, GiB: 1073741824, TiB: 1099511627776 };
    var keyOf = function (row, col, type) {
      var t = row.cells[col] ? row.cells[col].textContent : "";
      if (type === "size") {
        var s = /([\\d.]+) (B|KiB|MiB|GiB|TiB)/.exec(t);
        return s ? parseFloat(s[1]) * UNITS[s[2]] : -1;
      }
      if (type === "number") { var n = parseFloat(t); return isNaN(n) ? -1 : n; }
      return t.toLowerCase();
    };
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = th.textContent;
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", dir > 0 ? "ascending" : "descending");
        var type = th.getAttribute("data-sort");
        var keyed = items.map(function (item, i) { return { item: item, key: keyOf(item.row, col, type), i: i }; });
        keyed.sort(function (a, b) { return a.key < b.key ? -dir : a.key > b.key ? dir : a.i - b.i; });
        items = keyed.map(function (k) { return k.item; });
        // Reorder the rows while the body is out of the document: one layout, not one per row.
        var next = body.nextSibling;
        table.removeChild(body);
        items.forEach(function (item) { body.appendChild(item.row); });
        table.insertBefore(body, next);
      });
    });
  }
  Array.prototype.forEach.call(document.querySelectorAll(".cmd"), function (box) {
    var pre = box.querySelector("pre");
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = "Copy";
    button.addEventListener("click", function () {
      var done = function () { button.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(pre.textContent).then(done, function () { select(pre); });
      } else select(pre);
    });
    box.appendChild(button);
  });
  function select(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }
})();
`.trim();

/** The assets of every page of the site. */
export const PAGE_ASSETS: PageAssets = { css: CSS, js: JS };
