"""The KV cache behind `moecoder serve`: shared prefixes, the budget, and --persist-kv across restarts."""
import glob
import os
import resource

import openai

from conftest import ROOT

# A long prompt of real code (held-out files), unique to this module so other tests do not warm it.
CODE = "".join(open(p, encoding="utf-8", errors="replace").read()
               for p in sorted(glob.glob(os.path.join(ROOT, "models", "heldout", "*.py")))[:3])


def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="none", max_retries=0)


def complete(server, prompt, max_tokens=4):
    r = client(server).completions.create(model="default", prompt=prompt, max_tokens=max_tokens, temperature=0)
    return r.usage.prompt_tokens, r.usage.prompt_tokens_details.cached_tokens, r.choices[0].text


def test_a_shared_prefix_is_computed_once(start_server):
    s = start_server("--ctx-size", "2048")
    prefix = "# module one\n" + CODE[:3000]
    total, cached, _ = complete(s, prefix + "\ndef first(x):\n")
    assert cached == 0 and total > 500
    total2, cached2, _ = complete(s, prefix + "\nclass Second:\n    pass\n")
    # Everything up to where the texts differ comes from the cache (blocks of 16, the divergence copied).
    assert cached2 >= total - 10, (total, total2, cached2)
    # The same prompt again: all but its last token.
    total3, cached3, text3 = complete(s, prefix + "\ndef first(x):\n")
    assert cached3 == total3 - 1
    m = s.metrics()
    assert m["moecoder_kv_hit_tokens_total"] >= cached2 + cached3
    assert m['moecoder_kv_blocks{state="held"}'] == 0 and m['moecoder_kv_blocks{state="cached"}'] > 0
    assert s.stop() == 0


def test_a_small_budget_evicts_and_still_answers(start_server):
    # 1 MB holds about 250 positions of the default model's f32 cache (960 of serve's default q8_0): requests keep
    # evicting each other's prefixes.
    s = start_server("--kv-budget", "1", "--ctx-size", "512", "--kv-type", "f32")
    for i in range(6):
        total, cached, _ = complete(s, f"# file {i}\n" + CODE[i * 500:i * 500 + 600])
        assert total > 100
    m = s.metrics()
    assert m["moecoder_kv_evicted_blocks_total"] > 0
    assert m["moecoder_kv_cache_bytes"] <= m["moecoder_kv_budget_bytes"]
    assert s.stop() == 0


def test_a_request_larger_than_the_budget_fails_clearly(start_server):
    s = start_server("--kv-budget", "1", "--ctx-size", "2048")
    try:
        client(s).completions.create(model="default", prompt=CODE[:6000], max_tokens=4)
        raise AssertionError("a request beyond the KV budget was answered")
    except openai.APIStatusError as e:
        assert "more than the whole --kv-budget of 1.0 MiB" in str(e), str(e)
    assert s.stop() == 0


def test_persisted_prefixes_survive_a_restart(start_server, tmp_path):
    folder = tmp_path / "kv"
    prompt = "# persisted\n" + CODE[:2500]
    s = start_server("--persist-kv", str(folder), "--ctx-size", "2048")
    total, cached, text = complete(s, prompt)
    assert cached == 0
    assert s.stop() == 0
    files = list(folder.glob("*.kvcache"))
    assert len(files) == 1 and files[0].stat().st_size > 0
    s = start_server("--persist-kv", str(folder), "--ctx-size", "2048")
    total2, cached2, text2 = complete(s, prompt)
    assert cached2 == total2 - 1 and text2 == text
    assert s.stop() == 0
    assert "loaded" in s.output()


def test_bad_persisted_files_are_reported_and_skipped(start_server, tmp_path):
    folder = tmp_path / "kv"
    prompt = "# damaged\n" + CODE[:1500]
    s = start_server("--persist-kv", str(folder), "--ctx-size", "2048")
    complete(s, prompt)
    assert s.stop() == 0
    path = next(folder.glob("*.kvcache"))
    good = path.read_bytes()

    def restart_expecting(message):
        s = start_server("--persist-kv", str(folder), "--ctx-size", "2048")
        total, cached, _ = complete(s, prompt)
        assert cached == 0, "a damaged file must not serve anything"
        assert s.stop() == 0
        out = s.output()
        assert message in out, out

    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF
    path.write_bytes(bytes(damaged))
    restart_expecting("corrupted")
    path.write_bytes(good[:len(good) // 3])
    restart_expecting("truncated")
    path.write_bytes(b"not a cache at all")
    restart_expecting("truncated")
    # A file written for another model, under this model's name.
    other = tmp_path / "other"
    s = start_server("--persist-kv", str(other), "--ctx-size", "256",
                     model=os.path.join(ROOT, "Tests", "Fixtures", "models", "qwen2moe-q8_0.gguf"))
    client(s).completions.create(model="default", prompt=[5, 6, 7, 8] * 10, max_tokens=2)
    assert s.stop() == 0
    path.write_bytes(next(other.glob("*.kvcache")).read_bytes())
    restart_expecting("another model")


def test_a_full_disk_keeps_the_previous_file(start_server, tmp_path):
    folder = tmp_path / "kv"
    s = start_server("--persist-kv", str(folder), "--ctx-size", "2048")
    complete(s, "# small\nx = 1\n")
    assert s.stop() == 0
    path = next(folder.glob("*.kvcache"))
    before = path.read_bytes()

    def limit_files():  # the disk "fills" at 64 KiB: writing the bigger cache fails
        resource.setrlimit(resource.RLIMIT_FSIZE, (65536, 65536))

    s = start_server("--persist-kv", str(folder), "--ctx-size", "2048", preexec_fn=limit_files)
    complete(s, "# large\n" + CODE[:4000])
    assert s.stop() == 0
    assert "cannot save the KV cache" in s.output()
    assert path.read_bytes() == before
    assert not list(folder.glob("*.tmp"))


def test_cache_reuse_moves_a_restarted_window(start_server):
    # An editor's window restarts a few lines further down: the new prompt has no common prefix with the old one,
    # but most of it is the old prompt's text at positions ~50 lower.
    lines = CODE[len(CODE) // 3:].splitlines(keepends=True)[1:]
    old = "".join(lines[:30])
    new = "".join(lines[6:30]) + "    value = compute("
    exact = start_server("--ctx-size", "512")
    moved = start_server("--ctx-size", "512", "--cache-reuse", "64")
    assert "--cache-reuse 64" in "".join(moved.lines)
    answers = {}
    for name, s in (("exact", exact), ("moved", moved)):
        first = complete(s, old, max_tokens=8)
        total, cached, text = complete(s, new, max_tokens=8)
        answers[name] = (first, total, cached, text)
    # The first request finds nothing to move: the same answer with and without the option.
    assert answers["moved"][0] == answers["exact"][0]
    e_total, e_cached = answers["exact"][1], answers["exact"][2]
    m_total, m_cached, m_text = answers["moved"][1], answers["moved"][2], answers["moved"][3]
    assert e_total == m_total > 150
    # Without the option only an exact prefix is reused (a few tokens at most); with it, the moved lines.
    assert e_cached < 16, e_cached
    assert m_cached >= m_total - 20, (m_total, m_cached)
    assert len(m_text) > 0
    assert exact.metrics().get("moecoder_kv_shifted_tokens_total", 0) == 0
    assert moved.metrics()["moecoder_kv_shifted_tokens_total"] >= m_cached - 16
    # Once moved, the chunk is an exact prefix for the next keystroke.
    total2, cached2, _ = complete(moved, new + "x, ", max_tokens=4)
    assert cached2 >= m_total - 8, (total2, cached2)
    assert exact.stop() == 0 and moved.stop() == 0
