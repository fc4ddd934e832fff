"""report.html: a comparison as one self-contained page (no network: charts are data URIs, the script is
inline and allowed by its hash only). The cells table sorts by a click on a header and filters by text
and by grade; each cell's full answer and grader note are a click away (``<details>``); every model's
accuracy is drawn with its 95 % interval.

Model and provider text is hostile: every piece of it goes through ``html.escape`` and the script only
moves existing rows (it never parses text as markup), so an answer holding ``<script>`` shows as text.
"""

from __future__ import annotations

import base64
import hashlib
import html
import math
from pathlib import Path
from typing import Any

from helpers.compare.results import Comparison

SCRIPT = """
(function () {
  var table = document.getElementById('cells');
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var text = document.getElementById('filter');
  var mark = document.getElementById('mark-filter');
  var count = document.getElementById('shown');
  function key(row, i) {
    var cell = row.cells[i];
    var v = cell.getAttribute('data-sort');
    if (v === null) { v = cell.textContent; }
    var n = parseFloat(v);
    return (v !== '' && !isNaN(n) && isFinite(v)) ? n : v.toLowerCase();
  }
  function sortBy(i, th) {
    var up = th.getAttribute('aria-sort') !== 'ascending';
    var heads = table.tHead.rows[0].cells;
    for (var h = 0; h < heads.length; h++) { heads[h].removeAttribute('aria-sort'); }
    th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
    rows.sort(function (a, b) {
      var x = key(a, i), y = key(b, i);
      if (typeof x !== typeof y) { x = String(x); y = String(y); }
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  function filter() {
    var q = text.value.trim().toLowerCase(), m = mark.value, shown = 0;
    rows.forEach(function (r) {
      var ok = (!q || r.textContent.toLowerCase().indexOf(q) >= 0) && (!m || r.getAttribute('data-mark') === m);
      r.hidden = !ok;
      if (ok) { shown++; }
    });
    count.textContent = String(shown);
  }
  var heads = table.tHead.rows[0].cells;
  for (var i = 0; i < heads.length; i++) {
    (function (i, th) {
      th.tabIndex = 0;
      th.addEventListener('click', function () { sortBy(i, th); });
      th.addEventListener('keydown', function (e) { if (e.key === 'Enter') { sortBy(i, th); } });
    })(i, heads[i]);
  }
  text.addEventListener('input', filter);
  mark.addEventListener('change', filter);
  filter();
})();
"""

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:3px 7px;vertical-align:top}
th{background:#f3f3f3;text-align:left}#cells th{cursor:pointer}#cells th[aria-sort=ascending]::after{content:" ▲"}
#cells th[aria-sort=descending]::after{content:" ▼"}td.num{text-align:right}pre{white-space:pre-wrap;max-width:60em}
.ok{color:#17702a}.bad{color:#b3261e}.note{color:#555}details summary{cursor:pointer}
.controls{margin:.5em 0}.controls input{width:20em}img{max-width:100%}
"""


def esc(value: Any) -> str:
    """Text as HTML, quotes included; None and NaN as 'n/a'."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("<NA>", "nan"):
        return "n/a"
    return html.escape(str(value), quote=True)


def _table(head: list[str], rows: list[list[str]], attrs: str = "") -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table{attrs}><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def interval_svg(summary: Any) -> str:
    """Each model's accuracy (dot) and 95 % interval (bar) on a 0–100 % axis, as inline SVG."""
    rows = [r for r in summary.itertuples()]
    label_w, plot_w, row_h = 300, 420, 26
    height = 30 + row_h * len(rows)
    x = lambda v: label_w + plot_w * float(v)
    parts = [(f'<svg role="img" aria-label="accuracy with 95% intervals" '
             f'width="{label_w + plot_w + 20}" height="{height}" font-size="12">')]
    for tick in range(0, 101, 20):
        parts.append(f'<line x1="{x(tick / 100)}" y1="8" x2="{x(tick / 100)}" y2="{height - 18}" stroke="#ddd"/>'
                     f'<text x="{x(tick / 100)}" y="{height - 4}" text-anchor="middle">{tick}%</text>')
    for i, r in enumerate(rows):
        y = 20 + i * row_h
        name = r.model if len(r.model) <= 42 else "…" + r.model[-41:]
        parts.append(f'<text x="{label_w - 8}" y="{y + 4}" text-anchor="end">{esc(name)}</text>')
        if not any(_nan(v) for v in (r.accuracy, r.accuracy_low, r.accuracy_high)):
            parts.append(f'<line class="interval" x1="{x(r.accuracy_low):.1f}" y1="{y}" x2="{x(r.accuracy_high):.1f}" '
                         f'y2="{y}" stroke="#3367d6" stroke-width="3"><title>{esc(r.model)}: 95% interval '
                         f'{r.accuracy_low:.0%}–{r.accuracy_high:.0%}</title></line>'
                         f'<circle cx="{x(r.accuracy):.1f}" cy="{y}" r="5" fill="#1a1a1a"/>')
        else:
            parts.append(f'<text x="{label_w + 4}" y="{y + 4}" fill="#777">n/a (no graded answer)</text>')
    parts.append("</svg>")
    return "".join(parts)


def _nan(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _num(value: Any, fmt: str) -> tuple[str, str]:
    """(shown text, sort key) for a number; n/a sorts as empty."""
    if _nan(value):
        return "n/a", ""
    return format(float(value), fmt), repr(float(value))


def _cell_rows(comparison: Comparison) -> str:
    out = []
    for r in comparison.cells.itertuples():
        correct = None if _nan(r.correct) or str(r.correct) == "<NA>" else bool(r.correct)
        mark = {True: "✓", False: "✗", None: "–"}[correct]
        if r.status == "error":
            mark = "⚠"
        shown = r.extracted if not _nan(r.extracted) else (r.error_kind if r.status == "error" else "")
        full = r.answer if r.status == "ok" else (r.error if r.status == "error" else "not run")
        note = r.note if not _nan(r.note) and r.note else ""
        details = (f"<details><summary>{esc(shown or '(answer)')}</summary><pre>{esc(full)}</pre>"
                   f'<p class="note">expected: {esc(r.expected)}' + (f" · grader note: {esc(note)}" if note else "")
                   + f" · grader: {esc(r.grader)}</p></details>")
        nums = [_num(r.total_tokens, ",.0f"), _num(r.latency_s, ".2f"), _num(r.cost_usd, ".6f"),
                _num(r.g_co2e * 1000 if not _nan(r.g_co2e) else math.nan, ".2f")]
        klass = "" if correct is None else "ok" if correct else "bad"
        tds = (f"<td>{esc(r.puzzle)}</td><td>{esc(r.model)}</td><td class=num>{esc(r.repeat)}</td>"
               f'<td class="{klass}" data-sort="{esc(mark)}">{esc(mark)}</td><td>{details}</td>'
               + "".join(f'<td class=num data-sort="{esc(k)}">{esc(t)}</td>' for t, k in nums))
        out.append(f'<tr data-mark="{esc(mark)}">{tds}</tr>')
    return "".join(out)


def render(comparison: Comparison, chart_files: dict[str, Path] | None = None) -> str:
    """The whole page as a string."""
    from helpers.compare import charts, stats

    c = comparison.config
    summary = comparison.summary()
    params = ", ".join(f"{k}={v}" for k, v in c.params.items()) or "provider defaults"
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'; "
           "base-uri 'none'; form-action 'none'")
    pairs = comparison.pairs() + stats.self_consistency(comparison)
    parts = [
        "<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{esc(csp)}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Comparison {esc(comparison.run_id)}</title><style>{STYLE}</style></head><body>",
        f"<h1>Comparison {esc(comparison.run_id)}</h1><ul>",
        f"<li>created: {esc(comparison.created_at)}</li>",
        f"<li>puzzles: {len(c.puzzles.puzzles)} from <code>{esc(c.puzzles.source)}</code></li>",
        f"<li>models: {', '.join(f'<code>{esc(m)}</code>' for m in c.models)}</li>",
        f"<li>repeats: {c.repeat} · parameters: {esc(params)}" + (f" · judge: <code>{esc(c.judge)}</code>"
                                                                  if c.judge else "") + "</li>",
        f"<li>replay offline: <code>python -m helpers compare --replay {esc(comparison.run_id)}</code></li></ul>"]
    if comparison.stopped:
        parts.append(f"<p><strong>Stopped early:</strong> {esc(comparison.stopped)}</p>")
    parts += ["<h2>How sure is each accuracy?</h2>", interval_svg(summary), _table(*comparison.interval_rows()),
              ("<p>The dot is the share of graded answers that were right; the bar is its 95 % interval: the range "
              "of true accuracies that these answers leave plausible. The fewer the puzzles, the wider the bar. "
              "Two bars that overlap may still be told apart by the paired comparison below, which looks at the "
              "same puzzles for both models.</p>")]
    if pairs:
        parts += ["<h2>Paired differences</h2>", _table(*stats.pair_rows(pairs), ' id="pairs"'),
                  ("<p>A − B counts only puzzles both answered. When its interval includes 0, the data cannot say "
                  "which of the two is more accurate: the ranking could flip with other puzzles.</p>")]
    parts += [f"<p>{esc(comparison.power_line())}</p>", "<h2>Per model</h2>", _table(*comparison.summary_rows())]
    for name, path in (chart_files or {}).items():
        parts.append(f'<figure><img alt="{esc(charts.CHARTS.get(name, name))}" src="{_data_uri(path)}"></figure>')
    marks = "".join(f'<option value="{m}">{m}</option>' for m in ("✓", "✗", "–", "⚠"))
    parts += ["<h2>Every cell</h2>",
              ('<div class="controls"><label>filter <input id="filter" type="search" '
              'placeholder="model, puzzle, answer…"></label> <label>grade <select id="mark-filter">'
              f'<option value="">all</option>{marks}</select></label> <span id="shown"></span> rows shown · '
              "click a header to sort, an answer to read it whole</div>"),
              ('<table id="cells"><thead><tr><th>puzzle</th><th>model</th><th>repeat</th><th>✓</th><th>answer</th>'
              "<th>tokens</th><th>latency (s)</th><th>cost ($)</th><th>CO2e (mg)</th></tr></thead>"
              f"<tbody>{_cell_rows(comparison)}</tbody></table>"),
              f"<script>{SCRIPT}</script></body></html>"]
    return "\n".join(parts)


def write(comparison: Comparison, folder: Path, chart_files: dict[str, Path] | None = None) -> Path:
    path = folder / "report.html"
    path.write_text(render(comparison, chart_files), encoding="utf-8")
    return path
