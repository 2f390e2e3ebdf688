"""summary.html with the course's analytics: the grading run's page plus a sortable table of
every student's raw, penalty and final score, a student-by-exercise heat map, per-check failure
rates, each exercise's most common mistakes and, when ``drills similar`` ran, the similar pairs.

Still one self-contained file: the heat map is a table coloured by CSS classes (a few bytes a
cell, so 300 students by 40 exercises stay small), sorting is a few lines of inline JavaScript,
and the headers stay in view while scrolling a large class.
"""

from __future__ import annotations

from graders.course.analytics import check_failure_rates, common_mistakes, heat
from graders.course.gradebook import Row

_STYLE = """<style>
.sortable th{cursor:pointer}.sortable th:after{content:" \\2195";color:#999}
.scroll{max-height:75vh;overflow:auto;border:1px solid #ccc;margin-bottom:1em}
.scroll thead th{position:sticky;top:0;z-index:1}
table.heat{border-collapse:collapse;font-size:10px}
table.heat td{width:11px;height:11px;padding:0;border:1px solid #fff}
table.heat th.ex{writing-mode:vertical-rl;transform:rotate(180deg);font-weight:normal;padding:2px;white-space:nowrap}
table.heat th.who{position:sticky;left:0;background:#fff;text-align:right;font-weight:normal;padding:0 4px;white-space:nowrap}
.h0{background:#d73027}.h1{background:#fc8d59}.h2{background:#fee08b}.h3{background:#91cf60}
.h4{background:#1a9850}.hn{background:#eee}
.bar{display:inline-block;height:9px;background:#d73027;vertical-align:middle}
.legend span{display:inline-block;width:12px;height:12px;margin:0 3px 0 10px;vertical-align:middle}
</style>"""

_TEMPLATE = """
<h2 id="course">Students</h2>
<p>{{ rows|length }} students: {{ counts.graded }} graded, {{ counts.missing }} with no submission,
{{ counts.stray }} submissions matching no roster student, {{ counts.late }} late,
{{ counts.overridden }} with overrides.{% if release == "public" %} Feedback files leave out the hidden
checks (<code>--feedback public</code>).{% endif %} Click a column to sort.</p>
<div class="scroll"><table id="students" class="sortable"><thead><tr><th>submission</th><th>name</th>
<th>section</th><th>status</th><th>raw</th><th>late</th><th>penalty</th><th>final</th><th>overrides</th><th>flags</th></tr></thead><tbody>
{% for r in rows %}<tr><td>{% if files.get(r.submission) %}<a href="feedback/{{ files[r.submission]|urlencode }}">{{ r.submission }}</a>{% else %}{{ r.submission }}{% endif %}</td>
<td>{{ r.student.name if r.student else "" }}</td><td>{{ r.student.section if r.student else "" }}</td><td>{{ r.status }}</td>
<td>{{ "%g"|format(r.raw) }}</td><td>{{ r.lateness.describe() }}</td><td>{{ "%g"|format(r.penalty) }}</td><td>{{ "%g"|format(r.final) }}</td>
<td>{% for a in r.overrides %}{{ a.describe() }}<br>{% endfor %}</td><td>{{ r.record.flags|length if r.record else "" }}</td></tr>
{% endfor %}</tbody></table></div>
<h2>Heat map: students by exercise</h2>
<p class="legend">Share of an exercise's points, per student (best total first):<span class="h0"></span>0
<span class="h1"></span>&lt;50%<span class="h2"></span>&lt;75%<span class="h3"></span>&lt;100%<span class="h4"></span>100%
<span class="hn"></span>not graded. Hover a cell for who and what.</p>
<div class="scroll"><table id="heat-map" class="heat"><thead><tr><th class="who"></th>
{% for e in ids %}<th class="ex" title="{{ e }}">{{ e.split(".", 1)[1] }}</th>{% endfor %}</tr></thead><tbody>
{% for name, cells in heat %}<tr><th class="who">{{ name }}</th>{% for c in cells %}<td class="{{ c }}"></td>{% endfor %}</tr>
{% endfor %}</tbody></table></div>
<h2>Most common mistakes per exercise</h2>
<table id="mistakes"><thead><tr><th>exercise</th><th>share</th><th>mistake (the graders' diagnosis)</th><th>checks</th></tr></thead><tbody>
{% for e in ids %}{% for m in mistakes[e] %}<tr>{% if loop.first %}<td rowspan="{{ mistakes[e]|length }}">{{ e }}</td>{% endif %}
<td>{{ "%.0f"|format(100 * m.share) }}% ({{ m.count }})</td><td>{{ m.text }}</td><td>{{ m.checks|join(", ") }}</td></tr>
{% endfor %}{% endfor %}</tbody></table>
<h2>Failure rate per check</h2>
<div class="scroll"><table id="check-rates" class="sortable"><thead><tr><th>check</th><th>exercise</th><th>hidden</th><th>failed</th><th>rate</th><th>question</th></tr></thead><tbody>
{% for c in rates %}<tr><td>{{ c.test.rsplit("::", 1)[-1] }}</td><td>{{ c.exercise }}</td><td>{{ "yes" if c.hidden else "" }}</td>
<td>{{ c.failed }} / {{ c.assessed }}</td><td data-v="{{ c.rate }}"><span class="bar" style="width:{{ (60 * c.rate)|round|int }}px"></span> {{ "%.0f"|format(100 * c.rate) }}%</td><td>{{ c.question }}</td></tr>
{% endfor %}</tbody></table></div>
{% if similar is not none %}<h2>Similar code</h2>
{% if similar %}<table id="similar"><thead><tr><th>pair</th><th>file</th><th>similarity</th><th>shared tokens</th></tr></thead><tbody>
{% for p in similar %}<tr><td><a href="similarity.html#pair-{{ loop.index }}">{{ p.a }} &amp; {{ p.b }}</a></td><td>{{ p.file }}</td>
<td>{{ "%.0f"|format(100 * p.similarity) }}%</td><td>{{ p.tokens }}</td></tr>{% endfor %}</tbody></table>
{% else %}<p id="similar">No pair above the threshold.</p>{% endif %}{% endif %}
<script>
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var body = th.closest("table").tBodies[0], i = th.cellIndex, up = th.dataset.up !== "1";
    th.dataset.up = up ? "1" : "0";
    var key = function (tr) { var c = tr.cells[i], v = c.dataset.v || c.textContent.trim(), n = parseFloat(v);
      return isNaN(n) ? v.toLowerCase() : n; };
    Array.from(body.rows).sort(function (a, b) { var x = key(a), y = key(b);
      return (x < y ? -1 : x > y ? 1 : 0) * (up ? 1 : -1); }).forEach(function (tr) { body.appendChild(tr); });
  });
});
var hm = document.getElementById("heat-map");
hm.addEventListener("mouseover", function (ev) { var td = ev.target;
  if (td.tagName !== "TD" || td.title) return;
  td.title = td.parentNode.cells[0].textContent + " / " + hm.tHead.rows[0].cells[td.cellIndex].title; });
</script>
"""


def _bucket(share: float | None) -> str:
    if share is None:
        return "hn"
    if share >= 1.0:
        return "h4"
    return "h0" if share <= 0 else "h1" if share < 0.5 else "h2" if share < 0.75 else "h3"


def render(rows: list[Row], records: list[dict], *, ids: list[str], files: dict[str, str], timings: list,
           isolation: str, release: str, similar: list[dict] | None) -> str:
    """The whole page: the grading run's summary of ``records`` (final totals) and the course's part."""
    import jinja2

    from graders.grading.summary import render_summary

    page = render_summary(records, timings, isolation, files=files)
    ranked = sorted(records, key=lambda r: (-r["total"], r["submission"]))
    cells = [(r["submission"], [_bucket(s) for s in shares]) for r, shares in zip(ranked, heat(ranked, ids))]
    counts = {"graded": sum(r.record is not None for r in rows),
              "missing": sum(r.status == "no submission" for r in rows),
              "stray": sum(r.status == "not on roster" for r in rows),
              "late": sum(r.lateness.late_s > 0 for r in rows),
              "overridden": sum(bool(r.overrides) for r in rows)}
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    part = env.from_string(_TEMPLATE).render(
        rows=rows, files=files, ids=ids, heat=cells, mistakes=common_mistakes(records, ids),
        rates=check_failure_rates(records), similar=similar, counts=counts, release=release)
    page = page.replace("</head>", _STYLE + "</head>", 1)
    head, _, tail = page.rpartition("</body>")
    return head + part + "</body>" + tail

