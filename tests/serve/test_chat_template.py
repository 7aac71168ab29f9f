"""The chat route renders the GGUF's tokenizer.chat_template with the Jinja interpreter, and falls back to the
built-in layout (logging why, once) when the template cannot be parsed or rendered.

Each test serves a copy of models/default.gguf with a `tokenizer.chat_template` key added.
"""
import json
import os
import struct
import urllib.request

from conftest import MODEL

# A template in the style of the real ones: whitespace control, a namespace, a macro, filters, loop variables.
TEMPLATE = """{%- set ns = namespace(n=0) -%}
{%- macro tag(role) -%}<<{{ role | upper }}>>{%- endmacro -%}
{%- for m in messages -%}
    {%- set ns.n = ns.n + 1 -%}
    {{ tag(m.role) }} {{ m.content | trim }}{{ eos_token if m.role == 'assistant' else '' }}
{% endfor -%}
{%- if add_generation_prompt %}{{ tag('assistant') }}{% endif -%}
"""


def _with_template(path, template):
    """Writes a copy of the default model with tokenizer.chat_template set to `template`."""
    data = open(MODEL, "rb").read()
    pos = 24
    _, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", data, 0)

    def skip_value(p, vtype):
        sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
        if vtype == 8:
            (n,) = struct.unpack_from("<Q", data, p)
            return p + 8 + n
        if vtype == 9:
            etype, count = struct.unpack_from("<IQ", data, p)
            p += 12
            for _ in range(count):
                p = skip_value(p, etype)
            return p
        return p + sizes[vtype]

    alignment = 32
    for _ in range(n_kv):
        (n,) = struct.unpack_from("<Q", data, pos)
        key = data[pos + 8:pos + 8 + n].decode()
        pos += 8 + n
        (vtype,) = struct.unpack_from("<I", data, pos)
        if key == "general.alignment":
            (alignment,) = struct.unpack_from("<I", data, pos + 4)
        pos = skip_value(pos + 4, vtype)
    kv_end = pos
    for _ in range(n_tensors):
        (n,) = struct.unpack_from("<Q", data, pos)
        pos += 8 + n
        (dims,) = struct.unpack_from("<I", data, pos)
        pos += 4 + 8 * dims + 4 + 8
    infos_end = pos
    data_start = (infos_end + alignment - 1) // alignment * alignment

    key, value = b"tokenizer.chat_template", template.encode()
    extra = struct.pack("<Q", len(key)) + key + struct.pack("<I", 8) + struct.pack("<Q", len(value)) + value
    head = struct.pack("<4sIQQ", b"GGUF", version, n_tensors, n_kv + 1) + data[24:kv_end] + extra + data[kv_end:infos_end]
    head += b"\0" * ((-len(head)) % alignment)
    with open(path, "wb") as f:
        f.write(head + data[data_start:])


def _post(server, path, body):
    req = urllib.request.Request(server.url + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def _meta(server):
    with urllib.request.urlopen(server.url + "/v1/models", timeout=30) as r:
        return json.loads(r.read())["data"][0]["meta"]


def _chat(server, messages):
    return _post(server, "/v1/chat/completions", {"messages": messages, "max_tokens": 2, "temperature": 0})


def test_jinja_template_renders_the_prompt(tmp_path, start_server):
    path = str(tmp_path / "templated.gguf")
    _with_template(path, TEMPLATE)
    server = start_server(model=path)
    assert _meta(server)["chat_template"] == "jinja"
    messages = [{"role": "system", "content": "  Be brief. "}, {"role": "user", "content": "hi"},
                {"role": "assistant", "content": "hello"}, {"role": "user", "content": "sum 1 2"}]
    # What Jinja2 renders for TEMPLATE (eos_token is the tokenizer's <|endoftext|>).
    expected = ("<<SYSTEM>> Be brief.\n<<USER>> hi\n<<ASSISTANT>> hello<|endoftext|>\n<<USER>> sum 1 2\n"
                "<<ASSISTANT>>")
    reply = _chat(server, messages)
    tokens = _post(server, "/tokenize", {"content": expected, "parse_special": True})["tokens"]
    assert reply["usage"]["prompt_tokens"] == len(tokens)
    plain = _post(server, "/tokenize", {"content": "Be brief.\n\nUser: hi\nAssistant: hello\nUser: sum 1 2\nAssistant:",
                                        "parse_special": True})["tokens"]
    assert len(plain) != len(tokens)
    assert server.stop() == 0
    assert "chat template" not in server.output()


def test_template_that_fails_to_render_falls_back_and_logs_once(tmp_path, start_server):
    path = str(tmp_path / "raising.gguf")
    _with_template(path, "{{ raise_exception('roles must alternate') }}")
    server = start_server(model=path)
    assert _meta(server)["chat_template"] == "jinja"
    for _ in range(2):
        reply = _chat(server, [{"role": "user", "content": "hi"}])
        assert reply["usage"]["prompt_tokens"] > 0
    assert server.stop() == 0
    output = server.output()
    assert output.count("failed to render") == 1, output
    assert "roles must alternate" in output


def test_template_that_cannot_be_parsed_uses_the_builtin_layout(tmp_path, start_server):
    path = str(tmp_path / "broken.gguf")
    _with_template(path, "{% if messages %}never closed")
    server = start_server(model=path)
    assert _meta(server)["chat_template"] == "plain"
    reply = _chat(server, [{"role": "user", "content": "hi"}])
    assert reply["usage"]["prompt_tokens"] > 0
    assert server.stop() == 0
    output = server.output()
    assert output.count("cannot be parsed") == 1, output
    assert "line 1, column 1" in output
