#!/usr/bin/env python3
"""Golden chat-template renderings for Tests/JinjaTests, made with Python's Jinja2 as transformers renders them.

Needs exactly jinja2==3.1.6 (and markupsafe):  pip install jinja2==3.1.6 markupsafe
Run from the repository root:                  python3 tools/make_chat_fixtures.py

Reads Tests/Fixtures/chat/templates/*.jinja (see SOURCES.md there) and writes one JSON file per template to
Tests/Fixtures/chat/<name>.json: the bos/eos tokens, and for every conversation and add_generation_prompt value the
messages and either the exact text Jinja2 produced ("expected") or the message of the exception the template
raised ("error"). The environment is the one transformers' apply_chat_template builds:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols]) with its {% generation %} tag, its tojson filter
(json.dumps, ensure_ascii=False, no HTML escaping), raise_exception and strftime_now globals, and the variables
messages, tools=None, documents=None, add_generation_prompt and the special tokens the tokenizer defines.
strftime_now formats a fixed moment (NOW below, UTC) so the goldens do not change from day to day; the Swift test
renders with the same moment.
"""
import datetime
import json
import pathlib
import sys

import jinja2
from jinja2.exceptions import TemplateError
from jinja2 import nodes
from jinja2.ext import Extension, loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

if jinja2.__version__ != "3.1.6":
    sys.exit(f"jinja2 {jinja2.__version__} found; the goldens are pinned to 3.1.6 (pip install jinja2==3.1.6 markupsafe)")

ROOT = pathlib.Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "Fixtures" / "chat"
# 2026-01-15 09:30:00 UTC, as seconds since 1970 (the Swift test passes the same instant).
NOW_EPOCH = 1768469400
NOW = datetime.datetime.fromtimestamp(NOW_EPOCH, tz=datetime.timezone.utc)

# Special tokens each model's tokenizer defines (transformers passes them as variables; an absent one is undefined).
TEMPLATES = {
    "qwen3-coder": {"bos_token": None, "eos_token": "<|im_end|>"},
    "glm-4.7-flash": {"bos_token": None, "eos_token": "<|endoftext|>"},
    "deepseek-coder-v2-lite-instruct": {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
    "gpt-oss": {"bos_token": "<|startoftext|>", "eos_token": "<|return|>"},
}

TRICKY = 'Unicode: héllo wörld — 你好 🚀 ∑\nQuotes: \'single\' "double" `back`\nBraces: {{ not jinja }} {% raw %} {# x #} {}\n' \
         'Backslashes: C:\\path\\n \\t\ttab\n  indented line\n\ntrailing spaces   '

CONVERSATIONS = {
    "system_user": [
        {"role": "system", "content": "You are a careful coding assistant."},
        {"role": "user", "content": "Write a function that reverses a string in Python."},
    ],
    "multi_turn": [
        {"role": "system", "content": "You are a careful coding assistant."},
        {"role": "user", "content": "What does `git rebase -i` do?"},
        {"role": "assistant", "content": "It lets you edit, reorder, squash or drop commits interactively."},
        {"role": "user", "content": "And how do I abort it?"},
    ],
    "no_system": [
        {"role": "user", "content": "Hi!"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Explain closures in Swift."},
    ],
    "single_user": [
        {"role": "user", "content": "ping"},
    ],
    "tricky_content": [
        {"role": "system", "content": "System with \"quotes\" and {braces}.\n"},
        {"role": "user", "content": TRICKY},
        {"role": "assistant", "content": "  Answer with spaces and a newline\n"},
        {"role": "user", "content": "Second question: 1 < 2 && 3 > 2?"},
    ],
    "assistant_thinking": [
        {"role": "user", "content": "Add 2 and 3."},
        {"role": "assistant", "content": "<think>\n2 + 3 = 5\n</think>\n\nThe sum is 5."},
        {"role": "user", "content": "Now multiply them."},
    ],
    "ends_with_assistant": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": "Paris."},
    ],
    "empty_content": [
        {"role": "system", "content": ""},
        {"role": "user", "content": ""},
    ],
}

# Conversations a template must refuse (raise_exception), by template.
ERROR_CONVERSATIONS = {
    "gpt-oss": {
        "channel_tags_in_content": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "<|channel|>analysis<|message|>thinking"},
            {"role": "user", "content": "Again"},
        ],
    },
}


# Language features one at a time: (name, template, variables). Rendered into features.json the same way.
FEATURES = [
    ("text_only", "plain text\n", {}),
    ("output_types", "{{ 1 }}|{{ 1.5 }}|{{ 1e16 }}|{{ 0.00001 }}|{{ 100.0 }}|{{ none }}|{{ true }}|{{ 'a' }}|{{ [1, 'b', none, false] }}|{{ {'k': 'v', 'n': [1]} }}", {}),
    ("undefined_renders_empty", "[{{ missing }}][{{ d.missing }}][{{ missing is defined }}][{{ d.missing is undefined }}]", {"d": {}}),
    ("undefined_falsy", "{% if missing %}yes{% else %}no{% endif %}{% for x in missing %}x{% else %}empty{% endfor %}{{ missing | length }}", {}),
    ("undefined_attribute_error", "{{ missing.attr }}", {}),
    ("undefined_add_error", "{{ missing + 1 }}", {}),
    ("whitespace_trim_lstrip", "<ul>\n  {% for i in [1, 2] %}\n    <li>{{ i }}</li>\n  {% endfor %}\n</ul>\n", {}),
    ("whitespace_minus", "a   {{- 'b' -}}   c\n  {%- if true -%}\n  d  {%- endif %}  e", {}),
    ("whitespace_plus", "x\n  {%+ if true %}y{% endif +%}\nz", {}),
    ("whitespace_comment", "a\n  {# comment #}\nb {#- c -#}   c", {}),
    ("whitespace_variable_not_lstripped", "a\n  {{ 'b' }}\n  {% if true %}c{% endif %}\n", {}),
    ("trailing_newline_dropped", "line\n", {}),
    ("crlf_normalised", "a\r\nb\r\n{% if true %}\r\nc{% endif %}", {}),
    ("if_elif_else", "{% for n in [1, 2, 3] %}{% if n == 1 %}one{% elif n == 2 %}two{% else %}many{% endif %},{% endfor %}", {}),
    ("loop_vars", "{% for x in 'abc' %}{{ loop.index0 }}{{ loop.index }}{{ loop.first }}{{ loop.last }}{{ loop.length }}{{ loop.revindex }}[{{ loop.previtem }}|{{ loop.nextitem }}] {% endfor %}", {}),
    ("loop_filter_and_else", "{% for x in xs if x > 1 %}{{ x }}:{{ loop.length }} {% else %}none{% endfor %}{% for x in [] %}{% else %}empty{% endfor %}", {"xs": [1, 2, 3]}),
    ("loop_unpack_items", "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}{% for k, v in d | items %}{{ k }}{% endfor %}{% for k in d %}{{ k }}{% endfor %}", {"d": {"b": 1, "a": 2}}),
    ("loop_break_continue", "{% for i in range(10) %}{% if i == 2 %}{% continue %}{% endif %}{% if i == 5 %}{% break %}{% endif %}{{ i }}{% endfor %}", {}),
    ("loop_scope", "{% set x = 0 %}{% for i in [1, 2] %}[{{ x }}]{% set x = i %}{% endfor %}{{ x }}", {}),
    ("loop_cycle", "{% for i in range(4) %}{{ loop.cycle('a', 'b') }}{% endfor %}", {}),
    ("set_and_namespace", "{% set ns = namespace(count=0, name='x') %}{% for i in [1, 2, 3] %}{% set ns.count = ns.count + i %}{% endfor %}{{ ns.count }}{{ ns.name }}", {}),
    ("set_block", "{% set body %}\n  hello {{ who }}\n{% endset %}[{{ body }}]{% set up | upper %}x{% endset %}{{ up }}", {"who": "you"}),
    ("set_tuple", "{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set t = (3, 4) %}{{ t }}", {}),
    ("macro_defaults_and_kwargs", "{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('A') }} {{ greet('B', punct='?') }} {{ greet(name='C') }}", {}),
    ("macro_sees_globals", "{% macro f() %}{{ g }}{% endmacro %}{% set g = 5 %}{{ f() }}", {}),
    ("macro_recursive", "{% macro count(n) %}{{ n }}{% if n > 0 %}{{ count(n - 1) }}{% endif %}{% endmacro %}{{ count(3) }}", {}),
    ("call_block", "{% macro wrap(tag) %}<{{ tag }}>{{ caller() }}</{{ tag }}>{% endmacro %}{% call wrap('b') %}inner{% endcall %}", {}),
    ("filter_block", "{% filter upper %}shout {{ 'this' }}{% endfilter %}", {}),
    ("arithmetic", "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 7 / 2 }} {{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % 3 }} {{ -7 % 3 }} {{ 2 ** 10 }} {{ 1.5 + 1 }} {{ -3 }} {{ 4 / 2 }}", {}),
    ("string_ops", "{{ 'a' ~ 1 ~ none ~ true }} {{ 'ab' * 3 }} {{ 'x' + 'y' }} {{ [1] + [2] }}", {}),
    ("string_plus_int_error", "{{ 'a' + 1 }}", {}),
    ("comparisons", "{{ 1 < 2 }} {{ 2 <= 1 }} {{ 'a' < 'b' }} {{ 1 == 1.0 }} {{ 1 != 2 }} {{ true == 1 }} {{ 1 < 2 < 3 }} {{ 'a' == 'a' }} {{ none == none }}", {}),
    ("logic", "{{ true and false }} {{ 0 or 'x' }} {{ not 0 }} {{ '' or [] }} {{ 1 and 2 }} {{ not missing }}", {}),
    ("membership", "{{ 'a' in 'cat' }} {{ 2 in [1, 2] }} {{ 'k' in {'k': 1} }} {{ 'z' not in 'cat' }} {{ 'x' in missing }}", {}),
    ("tests", "{{ 1 is number }} {{ true is number }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is iterable }} {{ 1 is iterable }} {{ [] is sequence }} {{ none is none }} {{ true is boolean }} {{ 1 is integer }} {{ 1.0 is float }} {{ 3 is odd }} {{ 4 is even }} {{ 9 is divisibleby 3 }} {{ 1 is equalto 1 }} {{ 2 is in [1, 2] }} {{ 'a' is not string }} {{ missing is iterable }} {{ missing is sequence }}", {}),
    ("conditional_expression", "{{ 'yes' if 1 else 'no' }} {{ 'yes' if 0 else 'no' }} [{{ 'yes' if 0 }}] {{ 'a' if 0 else 'b' if 0 else 'c' }}", {}),
    ("subscripts_and_slices", "{{ xs[0] }} {{ xs[-1] }} {{ xs[1:] }} {{ xs[:2] }} {{ xs[::-1] }} {{ xs[::2] }} {{ xs[-2:] }} {{ 'hello'[1:3] }} {{ 'hello'[::-1] }} [{{ xs[10] }}] {{ d['k'] }} {{ d.k }}", {"xs": [1, 2, 3, 4], "d": {"k": "v"}}),
    ("dict_methods", "{{ d.get('a') }} {{ d.get('z') }} {{ d.get('z', 'dflt') }} {{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}", {"d": {"a": 1, "b": 2}}),
    ("dict_items_key_vs_method", "{{ d['items'] }} {{ d.items is defined }}", {"d": {"items": "field"}}),
    ("string_methods", "{{ ' x '.strip() }}|{{ 'xxaxx'.strip('x') }}|{{ '  a'.lstrip() }}|{{ 'a  '.rstrip() }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}|{{ 'abc'.startswith('ab') }}|{{ 'abc'.endswith(('x', 'c')) }}|{{ 'aXa'.replace('a', 'b') }}|{{ 'Ab'.upper() }}{{ 'Ab'.lower() }}|{{ 'hello world'.title() }}|{{ 'hELLO'.capitalize() }}|{{ '{} and {}'.format(1, 'b') }}|{{ '-'.join(['a', 'b']) }}|{{ 'banana'.count('a') }}|{{ 'banana'.find('n') }}", {}),
    ("filters_text", "{{ '  pad  ' | trim }}|{{ 'xhix' | trim('x') }}|{{ 'abc' | upper }}|{{ 'ABC' | lower }}|{{ 'hello world' | capitalize }}|{{ 'hello big-world' | title }}|{{ 'a-b-c' | replace('-', '+') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 42 | string }}|{{ [1, 2] | string }}|{{ '<&>' | e }}|{{ 'x' | safe }}", {}),
    ("filters_sequences", "{{ [3, 1, 2] | length }} {{ 'héllo' | length }} {{ {'a': 1} | length }} {{ [3, 1, 2] | first }} {{ [3, 1, 2] | last }} {{ 'abc' | first }} {{ [1, 2, 3] | join(', ') }} {{ [1, 2] | join }} {{ [3, 1, 2] | sort }} {{ [3, 1, 2] | reverse | list }} {{ [1, 1, 2] | unique | list }} {{ [1, 2, 3] | sum }} {{ [1, 5, 3] | max }} {{ [4, 2, 8] | min }} {{ 'ab' | list }}", {}),
    ("filters_numbers", "{{ '42' | int }} {{ 'x' | int }} {{ 3.9 | int }} {{ '2.5' | float }} {{ -3 | abs }} {{ 2.567 | round(2) }} {{ 2.5 | round }} {{ 7 | float }}", {}),
    ("filters_default", "{{ missing | default('d') }} {{ '' | default('d') }} {{ '' | default('d', true) }} {{ none | default('d') }} {{ 'v' | d('x') }}", {}),
    ("filters_select_map", "{{ users | selectattr('active') | map(attribute='name') | join(',') }} {{ users | rejectattr('active') | map(attribute='name') | list }} {{ users | selectattr('role', 'equalto', 'admin') | map(attribute='name') | first }} {{ [1, 2, 3, 4] | select('odd') | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ ['a', 'b'] | map('upper') | list }} {{ users | map(attribute='missing', default='-') | list }}", {"users": [{"name": "ann", "active": True, "role": "admin"}, {"name": "bob", "active": False, "role": "user"}]}),
    ("filters_items_dictsort", "{{ d | items | list }} {{ d | dictsort }}", {"d": {"b": 1, "A": 2}}),
    ("tojson", "{{ d | tojson }}|{{ d | tojson(indent=2) }}|{{ 'ü \"q\" \\ \n' | tojson }}|{{ [1, 1.5, true, none] | tojson }}|{{ {} | tojson }}|{{ [] | tojson(indent=2) }}", {"d": {"name": "x", "list": [1, {"y": None}], "u": "é"}}),
    ("tojson_undefined_error", "{{ missing | tojson }}", {}),
    ("string_escapes", "{{ 'tab\\there' }}|{{ \"q'uote\" }}|{{ 'it\\'s' }}|{{ 'nl\\n' }}|{{ '\\u00e9' }}|{{ 'a' 'b' }}|{{ 'back\\\\slash' }}|{{ 'keep\\d' }}", {}),
    ("raise_exception", "{% if true %}{{ raise_exception('Conversation roles must alternate') }}{% endif %}", {}),
    ("strftime_now", "{{ strftime_now('%Y-%m-%d %H:%M:%S %B %b %A %a %d %-d %j %y %p %I') }}", {}),
    ("range_and_dict", "{{ range(3) | list }} {{ range(1, 7, 2) | list }} {{ dict(a=1, b='x') }}", {}),
    ("is_not_and_precedence", "{{ not 1 is number }} {{ - 2 ** 2 }} {{ 'x' ~ 1 + 2 }} {{ [1, 2] | length > 1 and true }}", {}),
    ("filter_binds_tighter_error", "{{ 1 + 2 | string }}", {}),
    ("select_map_on_none", "{{ none | selectattr('type', 'equalto', 'x') | list | length }}{{ none | map(attribute='a') | list }}{{ '' | select | list }}", {}),
    ("raw_block", "a\n  {% raw %}\n{{ not }} {% if %}\n  {% endraw %}\nb {%- raw -%}  x  {%- endraw -%}  c", {}),
    ("non_string_dict_keys", "{% set d = {0: 'zero', 512: 'half', 'k': 1, none: 'n'} %}{{ d }} {{ d[512] }} {{ 0 in d }} {% for k, v in d.items() if k is number %}{{ k }}<={{ 100 }}:{{ k <= 100 }} {% endfor %}{{ d | tojson }} {{ d.get(0) }}", {}),
    ("generation_tag", "{% for m in ['a', 'b'] %}{% generation %}{% set x = m %}<{{ x }}>{% endgeneration %}[{{ x }}]{% endfor %}", {}),
    ("markup_plus_escapes", "{{ '<b>'|safe + '<i>' }}|{{ '<i>' + '<b>'|safe }}|{{ '<a>'|safe + '<b>' + '<c>'|safe + '&' }}|{{ '<x>' | e | e }}|{{ '<x>' ~ '<y>'|safe }}|{{ ('%s<br>'|safe) % '<p>' }}|{{ ('<s>'|safe|trim) + '<t>' }}", {}),
    ("nested_data", "{% for m in messages %}{{ m.role }}:{{ m['content'] }}{% if m.tool_calls is defined %}+tools{{ m.tool_calls | length }}{% endif %};{% endfor %}", {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "", "tool_calls": [{"name": "f"}]}]}),
    ("none_attribute", "[{{ n.x }}]{{ n.x is defined }}", {"n": None}),
    ("unknown_filter_error", "{{ 1 | no_such_filter }}", {}),
]


class GenerationTag(Extension):
    """transformers' {% generation %}...{% endgeneration %}: a call block whose caller output is the body."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return nodes.CallBlock(self.call_method("_render_body"), [], [], body).set_lineno(lineno)

    def _render_body(self, caller):
        return caller()


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def raise_exception(message):
    raise TemplateError(message)


def strftime_now(format):
    return NOW.strftime(format)


def environment():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[GenerationTag, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def main():
    env = environment()
    for name, tokens in TEMPLATES.items():
        source = (FIXTURES / "templates" / f"{name}.jinja").read_text(encoding="utf-8")
        template = env.from_string(source)
        cases = []
        conversations = dict(CONVERSATIONS)
        conversations.update(ERROR_CONVERSATIONS.get(name, {}))
        for conversation, messages in conversations.items():
            for add_generation_prompt in (True, False):
                variables = {"messages": messages, "tools": None, "documents": None,
                             "add_generation_prompt": add_generation_prompt}
                for token, value in tokens.items():
                    if value is not None:
                        variables[token] = value
                case = {"name": f"{conversation}/{'gen' if add_generation_prompt else 'nogen'}",
                        "add_generation_prompt": add_generation_prompt, "messages": messages}
                try:
                    case["expected"] = template.render(**variables)
                except TemplateError as error:
                    case["error"] = str(error)
                cases.append(case)
        out = {"template": f"templates/{name}.jinja", "jinja2": jinja2.__version__, "now_epoch": NOW_EPOCH,
               "bos_token": tokens["bos_token"], "eos_token": tokens["eos_token"], "cases": cases}
        path = FIXTURES / f"{name}.json"
        path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        print(f"{path.relative_to(ROOT)}: {len(cases)} cases")
    features = []
    for name, source, variables in FEATURES:
        case = {"name": name, "template": source, "variables": variables}
        try:
            case["expected"] = env.from_string(source).render(**variables)
        except Exception as error:  # UndefinedError, TypeError, TemplateSyntaxError...: the Swift side must fail too
            case["error"] = f"{type(error).__name__}: {error}"
        features.append(case)
    path = FIXTURES / "features.json"
    out = {"jinja2": jinja2.__version__, "now_epoch": NOW_EPOCH, "cases": features}
    path.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"{path.relative_to(ROOT)}: {len(features)} cases")


if __name__ == "__main__":
    main()
