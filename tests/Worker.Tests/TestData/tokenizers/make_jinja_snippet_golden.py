#!/usr/bin/python3
"""Renders small Jinja snippets, one language feature each, with jinja2 as transformers configures it; writes goldens
for the interpreter's unit tests (Tokenization/Jinja/JinjaSnippetGoldenTests.cs).

Run from this folder:  python3 make_jinja_snippet_golden.py   (same environment as make_chat_template_golden.py)
"""
import json
import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

COMMAND = "python3 make_jinja_snippet_golden.py  (jinja2 " + jinja2.__version__ + ")"


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


class AssistantTracker(jinja2.ext.Extension):
    # transformers' {% generation %} extension, minus the assistant-mask bookkeeping: it renders its body.
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, jinja2.ext.loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception

V = {"s": " Hello World ", "n": 7, "f": 2.5, "l": [3, 1, 2], "d": {"b": 1, "a": [1, 2], "items": "key"},
     "msgs": [{"role": "system", "content": "S"}, {"role": "user", "content": "U1"}, {"role": "assistant", "content": "A"},
              {"role": "user", "content": "U2"}],
     "e": "", "z": 0, "nul": None, "t": True, "u": "안녕 👋🏽"}

SNIPPETS = [
    # output and literals
    "{{ 1 }}|{{ 1.0 }}|{{ 1.5e3 }}|{{ 1e-5 }}|{{ 0.1 + 0.2 }}|{{ 1e16 }}|{{ 123456789012345.0 }}|{{ -0.0 }}",
    "{{ none }}|{{ None }}|{{ true }}|{{ False }}|{{ 'a' 'b' }}|{{ \"q\\\"\" }}",
    "{{ 'tab\\tnl\\n\\x41\\u00e9\\\\ \\d' }}",
    "{{ [1, 'a', 1.0, none, true, (1,), (1, 2), {'k': [2]}, \"it's\", 'say \"hi\"', 'a\\nb'] }}",
    "{{ {'a': 1, 'b': none} }}|{{ () }}|{{ [] }}|{{ {} }}",
    "{{ l }}{{ d }}{{ u }}",
    # whitespace control, trim_blocks, lstrip_blocks
    "a\n  {% if t %}\n    x\n  {% endif %}\nb",
    "a  {%- if t -%}  x  {%- endif -%}  b",
    "a\n  {%+ if t %}x{% endif %}\n",
    "{# comment #}\nA\n  {# indented comment #}\nB {{- ' c' }}  \n  {{ 'd' -}}\n  e",
    "line\n{{ 'x' }}\n{{ 'y' }}\n",
    "{% for i in l %}\n  - {{ i }}\n{% endfor %}\n",
    "{% if t %}yes{% endif %}\n\n",
    "{%- set x = 1 -%}\n\n  [{{ x }}]\n\n",
    # if / elif / else, truthiness
    "{% if e %}e{% elif z %}z{% elif nul %}n{% elif l %}l{% else %}none{% endif %}",
    "{% if not d %}empty{% else %}full{% endif %}{% if [] or {} or '' or 0 or 0.0 %}t{% else %}f{% endif %}",
    # for loops
    "{% for i in l %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }},{% endfor %}",
    "{% for i in l %}[{{ loop.previtem }}|{{ loop.nextitem }}]{% endfor %}",
    "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
    "{% for k in d %}{{ k }}{% endfor %}|{% for c in 'ab' %}{{ c }}{% endfor %}",
    "{% for m in msgs if m.role != 'system' %}{{ loop.index }}{{ m.content }}{{ loop.last }} {% endfor %}",
    "{% for i in [] %}x{% else %}empty{% endfor %}{% for i in l if i > 5 %}x{% else %}none{% endfor %}",
    "{% for i in range(5) %}{% if i == 1 %}{% continue %}{% endif %}{% if i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.index }}{{ a }}{{ b }} {% endfor %}{{ loop.index }}|{% endfor %}",
    "{% for a, b in [(1, 2), [3, 4]] %}{{ a + b }}{% endfor %}",
    "{% for x in undefined_thing %}x{% else %}none{% endfor %}",
    "{% for i in l %}{{ loop.cycle('odd', 'even') }}{% endfor %}",
    # set and scoping
    "{% set x = 1 %}{% for i in [1, 2] %}{{ x }}{% set x = x + 10 %}{{ x }},{% endfor %}{{ x }}",
    "{% set ns = namespace(total=0, names=[]) %}{% for i in l %}{% set ns.total = ns.total + i %}{% endfor %}{{ ns.total }}",
    "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t2 = 1, 2 %}{{ t2 }}",
    "{% set block %}  inner {{ n }} {% endset %}[{{ block }}]{% set b2 | trim | upper %}  x {% endset %}[{{ b2 }}]",
    "{% if t %}{% set inside = 'i' %}{% endif %}{{ inside }}",
    # macros
    "{% macro greet(name, greeting='Hi', punct='!') %}{{ greeting }} {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }}|{{ greet('B', 'Yo') }}|{{ greet('C', punct='?') }}",
    "{% macro rec(k) %}{% if k > 0 %}{{ k }}{{ rec(k - 1) }}{% endif %}{% endmacro %}{{ rec(3) }}",
    "{% macro m() %}{{ n }}{% endmacro %}{% set n = 9 %}{{ m() }}",
    # generation and filter blocks
    "{% generation %}gen {{ n }}{% endgeneration %}",
    "{% filter upper %}up {{ s }}{% endfilter %}",
    # expressions
    "{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 4 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ -2 ** 2 }} {{ 7.5 // 2 }} {{ 1 + 2 * 3 - 4 }}",
    "{{ 'a' ~ 1 ~ none ~ 2.0 ~ true }}|{{ 'ab' * 3 }}|{{ [1] * 3 }}|{{ [1] + [2] }}|{{ 'x' + 'y' }}|{{ true + 1 }}",
    "{{ 1 < 2 < 3 }} {{ 1 < 3 < 2 }} {{ 'a' < 'b' }} {{ [1, 2] < [1, 3] }} {{ 1 == 1.0 }} {{ 1 != 2 }} {{ 'a' in 'cat' }} {{ 2 in l }} {{ 'b' in d }} {{ 5 not in l }}",
    "{{ t and 'yes' }}|{{ z or 'fallback' }}|{{ not t }}|{{ e or nul or 'last' }}|{{ l and z }}",
    "{{ 'a' if t else 'b' }}|{{ 'a' if z else 'b' }}|{{ 'a' if z }}|{{ 1 if z else 2 if t else 3 }}",
    "{{ l[0] }} {{ l[-1] }} {{ l[5] }} {{ d['b'] }} {{ d.b }} {{ d.missing }} {{ d['items'] }} {{ msgs[1].content }} {{ 'abc'[1] }} {{ u[3] }}",
    "{{ l[1:] }} {{ l[:-1] }} {{ l[::-1] }} {{ l[::2] }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} {{ msgs[1:][0].role }} {{ l[-10:10] }} {{ u[::-1] }}",
    "{{ d.items() | list }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.get('b') }} {{ d.get('x', 'dflt') }} {{ d.get('x') }}",
    # string methods
    "[{{ s.strip() }}][{{ s.lstrip() }}][{{ s.rstrip() }}][{{ 'xxaxx'.strip('x') }}][{{ s.upper() }}][{{ s.lower() }}][{{ 'hello world'.title() }}][{{ 'hELLO'.capitalize() }}]",
    "{{ 'a,b,,c'.split(',') }} {{ '  a  b '.split() }} {{ 'a b c'.split(' ', 1) }} {{ s.startswith(' He') }} {{ s.endswith(('x', ' ')) }} {{ 'aaa'.replace('a', 'b', 2) }}",
    "{{ '-'.join(['a', 'b']) }} {{ 'hello'.find('l') }} {{ 'hello'.count('l') }} {{ '{} and {}'.format('x', 1) }} {{ '{name}!'.format(name='N') }} {{ 'a\\nb'.splitlines() }}",
    # filters
    "[{{ s | trim }}][{{ s | length }}][{{ l | count }}][{{ u | length }}][{{ l | first }}][{{ l | last }}][{{ l | join('-') }}][{{ l | join }}]",
    "{{ s | upper }}|{{ s | lower }}|{{ 'hello wORLD-x (y' | title }}|{{ 'hELLO' | capitalize }}|{{ s | replace('l', 'L') }}|{{ s | replace('l', 'L', 1) }}",
    "{{ missing | default('dflt') }}|{{ e | default('dflt') }}|{{ e | default('dflt', true) }}|{{ nul | d('x') }}|{{ missing | d }}",
    "{{ 'abc' | list }} {{ d | list }} {{ 42 | string }} {{ '12' | int + 1 }} {{ '3.7' | int }} {{ 'x' | int }} {{ 'x' | int(5) }} {{ '2.5' | float }} {{ 3 | float }} {{ 2.7 | int }}",
    "{{ -3 | abs }} {{ (-2.5) | abs }} {{ 2.5 | round }} {{ 3.5 | round }} {{ 2.567 | round(2) }} {{ 2.1 | round(0, 'ceil') }} {{ 2.9 | round(0, 'floor') }} {{ 3 | round }}",
    "{{ msgs | map(attribute='role') | list }} {{ ['a', 'b'] | map('upper') | list }} {{ msgs | map(attribute='nope', default='-') | list }}",
    "{{ l | select('odd') | list }} {{ l | reject('odd') | list }} {{ [0, 1, '', 'a'] | select | list }} {{ l | select('divisibleby', 3) | list }} {{ l | select('gt', 1) | list }}",
    "{{ msgs | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ msgs | rejectattr('role', 'eq', 'user') | list | length }} {{ msgs | selectattr('content') | list | length }}",
    "{{ msgs | selectattr('tool_calls', 'undefined') | list | length }} {{ msgs | selectattr('role', 'in', ['system', 'assistant']) | list | length }}",
    "{{ ['b', 'A', 'a', 'B'] | unique | list }} {{ ['b', 'A', 'a'] | unique(case_sensitive=true) | list }} {{ ['b', 'A', 'c'] | sort }} {{ l | sort(reverse=true) }} {{ msgs | sort(attribute='content') | map(attribute='content') | list }}",
    "{{ l | reverse | list }} {{ 'abc' | reverse }} {{ l | batch(2) | list }} {{ l | batch(2, 0) | list }} {{ l | sum }} {{ l | min }} {{ l | max }} {{ d | dictsort }}",
    "{{ 'a\\nb\\n\\nc' | indent }}|{{ 'a\\nb' | indent(2, true) }}|{{ 'a\\n\\nb' | indent(2, blank=true) }}|{{ 'x' | indent('> ', first=true) }}",
    "{{ '<b>&\"\\'' | escape }} {{ '<b>' | safe }} {{ 'one two  three' | wordcount }} {{ d | items | list }}",
    # tojson as transformers defines it
    "{{ d | tojson }}",
    "{{ d | tojson(indent=2) }}",
    "{{ {'u': u, 'q': 'a\"b\\\\c\\n\\t\\u0001', 'f': 1.0, 'g': 1e-7, 'n': none, 'b': false, 'l': [], 'o': {}} | tojson }}",
    "{{ {'a': [1, {'b': 2}]} | tojson(indent=4) }}|{{ [1, 2] | tojson(separators=(',', ':')) }}|{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ 'é' | tojson(ensure_ascii=true) }}",
    "{{ (1, 'a') | tojson }} {{ 'str' | tojson }} {{ 5 | tojson }} {{ none | tojson }}",
    # tests
    "{{ n is defined }} {{ nope is defined }} {{ nope is undefined }} {{ nul is none }} {{ s is string }} {{ n is number }} {{ f is number }} {{ t is number }} {{ n is integer }} {{ f is integer }} {{ t is integer }} {{ f is float }}",
    "{{ t is boolean }} {{ n is boolean }} {{ d is mapping }} {{ l is mapping }} {{ l is iterable }} {{ s is iterable }} {{ n is iterable }} {{ l is sequence }} {{ s is sequence }} {{ t is true }} {{ z is false }} {{ 1 is true }}",
    "{{ n is odd }} {{ n is even }} {{ 9 is divisibleby 3 }} {{ 9 is divisibleby(4) }} {{ n is eq 7 }} {{ n is equalto(7) }} {{ n is not none }} {{ 'abc' is lower }} {{ 'ABC' is upper }} {{ 2 is in l }}",
    # globals
    "{{ range(3) | list }} {{ range(1, 4) | list }} {{ range(10, 0, -3) | list }} {{ dict(a=1, b='x') }} {{ namespace(a=1).a }}",
    "{% set ns = namespace(found=false) %}{% for m in msgs %}{% if m.role == 'assistant' %}{% set ns.found = true %}{% endif %}{% endfor %}{{ ns.found }}",
    # undefined
    "[{{ nope }}][{{ nope | length }}][{{ nope | trim }}][{{ nope | list }}][{{ nope ~ 'x' }}][{{ nope == nope2 }}][{{ 'a' in nope }}]",
    # errors
    "{{ raise_exception('Bad conversation: ' ~ n) }}",
    "ok\n{{ nope.attr }}",
    "{{ d.missing.deeper }}",
    "{{ 1 + nope }}",
    "{{ 'a' + 1 }}",
    "{{ l.append(4) }}",
    "{{ d.update({'x': 1}) }}",
    "{{ 1 / 0 }}",
    "{% for a, b in [1] %}{% endfor %}",
    "{{ nope() }}",
    "{{ nope | tojson }}",
    "{{ 1 < 'a' }}",
]

SYNTAX_ERRORS = [
    "{% if t %}x",
    "{% for i in l %}x{% endif %}",
    "x\n\n{{ 1 +* 2 }}",
    "{{ l | nosuchfilter }}",
    "{{ l is nosuchtest }}",
    "{% break %}",
    "{% nosuchtag %}",
    "{{ 'unterminated }}",
    "{# open comment",
    "{{ x",
]

cases = []
for text in SNIPPETS + SYNTAX_ERRORS:
    case = {"template": text}
    try:
        case["rendered"] = env.from_string(text).render(**V)
    except jinja2.exceptions.TemplateSyntaxError as ex:
        case["error_type"] = "TemplateSyntaxError"
        case["error"] = str(ex)
        case["line"] = ex.lineno
    except Exception as ex:
        case["error_type"] = type(ex).__name__
        case["error"] = str(ex)
    cases.append(case)

with open("chat-templates/jinja-snippets.json", "w", encoding="utf-8") as f:
    json.dump({"command": COMMAND, "variables": V, "cases": cases}, f, ensure_ascii=False, indent=1)
print("ok", len(cases), "cases;", sum("error" in c for c in cases), "errors")
for c in cases:
    if "error" in c:
        print(c["error_type"], "|", c["error"][:80], "|", c.get("line"))
