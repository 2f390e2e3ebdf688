"""similarity.html: each similar pair side by side, the code they share highlighted (one
self-contained page)."""

from __future__ import annotations

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Deep Learning Drills: similar code</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}th{background:#eee}
.side{display:flex;gap:1em}.side>div{flex:1;min-width:0}pre{background:#f8f8f8;padding:.5em;overflow:auto;font-size:12px}
mark{background:#ffd54f}</style></head><body>
<h1>Similar code</h1>
<p>{{ pairs|length }} pair(s) share at least {{ "%.0f"|format(100 * threshold) }}% of a file's code
(names, strings and layout ignored; what the stubs already contain left out). Similar is not
copied: read the code before you decide.</p>
{% if pairs %}<table id="pairs"><tr><th>#</th><th>pair</th><th>file</th><th>shared</th><th>tokens</th></tr>
{% for p in pairs %}<tr><td>{{ loop.index }}</td><td><a href="#pair-{{ loop.index }}">{{ p.a }} &amp; {{ p.b }}</a></td>
<td>{{ p.file }}</td><td>{{ "%.0f"|format(100 * p.similarity_a) }}% / {{ "%.0f"|format(100 * p.similarity_b) }}%</td><td>{{ p.tokens }}</td></tr>
{% endfor %}</table>{% endif %}
{% for p, left, right in views %}<h2 id="pair-{{ loop.index }}">{{ loop.index }}. {{ p.a }} &amp; {{ p.b }}: {{ p.file }}</h2>
<div class="side"><div><h3>{{ p.a }} ({{ "%.0f"|format(100 * p.similarity_a) }}% shared)</h3><pre>{{ left|safe }}</pre></div>
<div><h3>{{ p.b }} ({{ "%.0f"|format(100 * p.similarity_b) }}% shared)</h3><pre>{{ right|safe }}</pre></div></div>
{% endfor %}</body></html>
"""


def _highlighted(fp, slices) -> str:
    from copydetect.utils import highlight_overlap
    from markupsafe import escape

    if slices.shape[-1] == 0:
        return str(escape(fp.raw_code))
    text, _ = highlight_overlap(fp.raw_code, slices, "<mark>", "</mark>", escape_html=True)
    return text


def render(pairs: list, prints: dict, *, threshold: float) -> str:
    """The page for ``pairs`` (:class:`~graders.course.similarity.Pair`), with their fingerprints."""
    import jinja2
    from copydetect import compare_files

    views = []
    for p in pairs:
        fa, fb = prints[(p.a, p.file)], prints[(p.b, p.file)]
        _, _, (sa, sb) = compare_files(fa, fb)
        views.append((p, _highlighted(fa, sa), _highlighted(fb, sb)))
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(_TEMPLATE).render(pairs=pairs, views=views, threshold=threshold)
