"""summary.html: the class at a glance, one self-contained page.

The score distribution and each exercise's pass rate are drawn with matplotlib and embedded
as base64 PNGs; the flagged submissions (each linked to its feedback file, named as in
grades.csv) and the slowest checks follow as tables. The page
needs no network and no other file.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Deep Learning Drills: class summary</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#eee}
img{max-width:100%}</style></head>
<body>
<h1>Deep Learning Drills: class summary</h1>
<p id="counts">{{ results|length }} submissions, {{ exercises|length }} exercises,
{{ flagged|length }} flagged. Mean total {{ "%.2f"|format(mean) }} of {{ "%g"|format(max_total) }} points.</p>
{% if isolation %}<p id="isolation">Isolation: {{ isolation }}.</p>{% endif %}
<h2>Score distribution</h2>
<img id="distribution" onload="this.setAttribute('data-width', this.naturalWidth)" alt="Histogram of total points per submission" src="data:image/png;base64,{{ distribution }}">
<h2>Pass rate per exercise</h2>
<img id="pass-rates" onload="this.setAttribute('data-width', this.naturalWidth)" alt="Share of submissions passing each exercise" src="data:image/png;base64,{{ pass_rates }}">
<table id="exercise-table"><tr><th>exercise</th><th>passed</th><th>flagged</th><th>mean points</th></tr>
{% for e in exercise_rows %}<tr><td>{{ e.id }}</td><td>{{ e.passed }} / {{ results|length }}</td>
<td>{{ e.flagged }}</td><td>{{ "%.2f"|format(e.mean) }} / {{ "%g"|format(e.max) }}</td></tr>
{% endfor %}</table>
<h2>Flagged submissions</h2>
{% if flagged %}<table id="flagged"><tr><th>submission</th><th>total</th><th>why</th></tr>
{% for r in flagged %}<tr><td><a href="feedback/{{ files[r.submission]|urlencode }}">{{ r.submission }}</a></td><td>{{ "%g"|format(r.total) }}</td>
<td><ul>{% for f in r.flags %}<li>{{ f }}</li>{% endfor %}</ul></td></tr>
{% endfor %}</table>{% else %}<p id="flagged">No submission was flagged.</p>{% endif %}
<h2>For review</h2>
<p>What the static review found in the code, before it ran: constructs that reach into the
grader or hide what runs (frames, <code>exec</code>, <code>torch.library</code>...). They cost no
points; read the lines and decide (an override clears or sets points).</p>
{% if reviewed %}<table id="review"><tr><th>submission</th><th>found</th></tr>
{% for r in reviewed %}<tr><td><a href="feedback/{{ files[r.submission]|urlencode }}">{{ r.submission }}</a></td>
<td><ul>{% for f in r.review %}<li>{{ f }}</li>{% endfor %}</ul></td></tr>
{% endfor %}</table>{% else %}<p id="review">Nothing to review.</p>{% endif %}
<h2>Slowest checks</h2>
<table id="slowest"><tr><th>seconds</th><th>submission</th><th>check</th></tr>
{% for t in slowest %}<tr><td>{{ "%.2f"|format(t[0]) }}</td><td>{{ t[1] }}</td><td>{{ t[2] }}</td></tr>
{% endfor %}</table>
</body></html>
"""


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _charts(results: list[dict], rows: list[dict], max_total: float) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3))
    ax = fig.subplots()
    ax.hist([r["total"] for r in results], bins=max(5, min(20, len(results))), range=(0, max_total or 1),
            color="#4878a8", edgecolor="white")
    ax.set_xlabel("total points")
    ax.set_ylabel("submissions")
    distribution = _png(fig)
    fig = Figure(figsize=(7, 0.3 * len(rows) + 1))
    ax = fig.subplots()
    ax.barh([e["id"] for e in rows][::-1], [e["rate"] * 100 for e in rows][::-1], color="#58a868")
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of submissions passing")
    ax.tick_params(axis="y", labelsize=7)
    return distribution, _png(fig)


def write_summary(results: list[dict], path: Path, timings: list[tuple[float, str, str]],
                  isolation: str = "") -> None:
    """Write summary.html for ``results`` (``timings``: (seconds, submission, check), slowest
    first; ``isolation``: the protections the grading ran with, in words)."""
    from graders.grading import atomic

    atomic.write(path, render_summary(results, timings, isolation))


def render_summary(results: list[dict], timings: list[tuple[float, str, str]], isolation: str = "",
                   files: dict[str, str] | None = None) -> str:
    """The page of :func:`write_summary` as text (``files``: the feedback file of each
    submission, when not :func:`~graders.grading.names.feedback_names` of ``results``)."""
    import jinja2

    from graders.grading.names import exercise_ids, feedback_names

    ids = exercise_ids(results)
    n = max(1, len(results))
    rows = []
    for ex_id in ids:
        entries = [r["exercises"][ex_id] for r in results if ex_id in r["exercises"]]
        passed = sum(e["status"] == "passed" for e in entries)
        rows.append({
            "id": ex_id, "passed": passed, "rate": passed / n,
            "flagged": sum(e["status"] == "flagged" for e in entries),
            "mean": sum(e["points"] for e in entries) / n,
            "max": entries[0]["max_points"] if entries else 0,
        })
    max_total = max((r["max_total"] for r in results), default=0.0)
    distribution, pass_rates = _charts(results, rows, max_total)
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    html = env.from_string(_TEMPLATE).render(
        results=results, exercises=ids, exercise_rows=rows, max_total=max_total,
        mean=sum(r["total"] for r in results) / n,
        flagged=[r for r in results if r["flags"]], slowest=timings[:15],
        reviewed=[r for r in results if r.get("review")],
        files=files if files is not None else feedback_names([r["submission"] for r in results]),
        distribution=distribution, pass_rates=pass_rates, isolation=isolation,
    )
    return html
