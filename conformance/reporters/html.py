"""The HTML report: one self-contained file (inline CSS, no scripts, no links) to attach or archive.

Everything a server sent is escaped (jinja2 autoescaping): a report must not become an injection
vector for the very server it judges.
"""

from __future__ import annotations

import jinja2

from conformance.result import SuiteResult

_TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Crosmos conformance: {{ r.verdict }} ({{ r.base_url }})</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; color: #1b1f24; padding: 0 1rem; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.verdict { display: inline-block; padding: .2rem .6rem; border-radius: .3rem; font-weight: 600; }
.ok { background: #d9f2df; color: #11602a; } .bad { background: #fbdada; color: #8a1212; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid #dde1e6; vertical-align: top; }
.pass { color: #11602a; } .fail { color: #8a1212; font-weight: 600; } .note { color: #8a5a00; }
.not-applicable { color: #6a737d; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; }
dl.meta dt { color: #57606a; } dl.meta dd { margin: 0; font-family: ui-monospace, monospace; }
.finding { border-left: 4px solid #c62828; padding: .4rem .8rem; margin: .8rem 0; background: #fff7f7; }
.finding.should { border-color: #e0a800; background: #fffbef; }
pre { white-space: pre-wrap; word-break: break-all; background: #f4f5f7; padding: .4rem .6rem; margin: .3rem 0; }
</style>
</head>
<body>
<h1>Crosmos usage endpoint conformance</h1>
<p><span class="verdict {{ 'ok' if r.conformant else 'bad' }}">{{ r.verdict }}</span>
at level <b>{{ r.level.value }}</b> ({{ 'MUST rules' if r.level.value == 'core' else 'MUST and SHOULD rules' }})</p>
<dl class="meta">
<dt>Server</dt><dd>{{ r.base_url }} ({{ r.target }})</dd>
<dt>Profile</dt><dd>{{ r.profile }}</dd>
<dt>Seed</dt><dd>{{ r.seed }}</dd>
<dt>Time zone</dt><dd>{{ r.timezone }}</dd>
<dt>Requests</dt><dd>{{ r.requests }} ({{ r.generated_cases }} generated) in {{ '%.1f' % r.duration_s }} s
of a {{ r.budget_s }} s budget{% if not r.complete %}; <b>incomplete: {{ r.stop_reason }}</b>{% endif %}</dd>
<dt>Rate limits</dt><dd>{{ r.rate_limits.refusals }} refusals (429) met, {{ r.rate_limits.retries }} retried,
{{ r.rate_limits.waited_s }} s waited, {{ r.rate_limits.unanswered }} never answered</dd>
<dt>Contract sha256</dt><dd>{{ r.contract_sha256 }}</dd>
<dt>Kit</dt><dd>crosmos-contract-kit {{ r.kit_version }}, schemathesis {{ r.schemathesis_version }}</dd>
<dt>Started</dt><dd>{{ r.started_at }}</dd>
</dl>
{% for n in r.notes %}<p>Note: {{ n }}</p>{% endfor %}
{% if r.errors %}<h2>Run problems</h2><ul>{% for e in r.errors %}<li>{{ e }}</li>{% endfor %}</ul>{% endif %}
<h2>Checks</h2>
<table>
<thead><tr><th>Id</th><th>Level</th><th>Outcome</th><th>Title</th><th>Responses</th></tr></thead>
<tbody>
{% for c in r.checks %}<tr>
<td>{{ c.id }}</td><td>{{ c.spec.level.value }}</td><td class="{{ c.outcome.value }}">{{ c.outcome.value }}</td>
<td>{{ c.spec.title }}</td><td>{{ c.exercised }}</td></tr>
{% endfor %}</tbody>
</table>
{% set failing = r.checks | selectattr('findings') | list %}
{% if failing %}<h2>Failures</h2>{% endif %}
{% for c in failing %}{% for f in c.findings %}
<div class="finding {{ 'should' if c.spec.level.value == 'SHOULD' else '' }}">
<b>{{ c.id }} {{ c.spec.title }}</b> ({{ c.spec.level.value -}}
{% if not r.level.decides(c.spec) %}, not decisive at this level{% endif %})
<div>Received {{ f.received }}</div>
<div>Expected {{ f.expected }}</div>
{% if f.detail %}<div>{{ f.detail }}</div>{% endif %}
<div>Found by {{ f.origin }}; reproduce with:</div>
<pre>{{ f.curl }}</pre>
</div>
{% endfor %}
{% if c.occurrences > c.findings|length %}<p>{{ c.id }}: {{ c.occurrences }} failing responses in all.</p>{% endif %}
{% endfor %}
{% set shown = r.checks | selectattr('evidence') | list %}
{% if shown %}<h2>What the cross-request checks compared</h2>
{% for c in shown %}<p><b>{{ c.id }}</b> {{ c.evidence | length }}: {{ c.evidence | join('; ') }}</p>{% endfor %}
{% endif %}
{% set noted = r.checks | selectattr('notes') | list %}
{% if noted %}<h2>Notes</h2>
{% for c in noted %}{% for n in c.notes %}
<p><b>{{ c.id }}</b> {{ n.message }}</p><pre>{{ n.curl }}</pre>
{% endfor %}{% endfor %}
{% endif %}
</body>
</html>
"""

_ENVIRONMENT = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)


def render_html(result: SuiteResult) -> str:
    return _ENVIRONMENT.from_string(_TEMPLATE).render(r=result)
