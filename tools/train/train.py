#!/usr/bin/env python3
"""Train the shipped default model: a small qwen2moe (8 routed experts, top-2, plus a shared expert) on Python
code with a fill-in-the-middle objective.

Samples are windows of a training file, chosen with probability proportional to file size. Half of them are
rearranged StarCoder-style as `<fim_prefix>P<fim_suffix>S<fim_middle>M<|endoftext|>`, split at character
positions (so a cursor inside a word is seen in training as it is in use); the other half are plain left-to-right
text. The loss covers every non-padding token, plus the router load-balancing loss.

Deterministic given the config: the batch of step k is drawn from `numpy.random.default_rng([seed, k])`, so a
resumed run sees the same data as an uninterrupted one. Checkpoints (`--out/ckpt.pt`, atomically replaced) every
`--ckpt-minutes`; rerunning the same command resumes. Prints tokens/s, loss, held-out loss and ETA.
"""
import argparse
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer
from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM

REPO = Path(__file__).resolve().parents[2]

# The shipped model's architecture.
MODEL_CONFIG = dict(
    vocab_size=8192, hidden_size=256, num_hidden_layers=4, num_attention_heads=4, num_key_value_heads=2,
    intermediate_size=512, moe_intermediate_size=256, shared_expert_intermediate_size=256,
    num_experts=8, num_experts_per_tok=2, norm_topk_prob=False, decoder_sparse_step=1, mlp_only_layers=[],
    max_position_embeddings=2048, rope_theta=10000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
    output_router_logits=True, router_aux_loss_coef=0.01, use_sliding_window=False,
    bos_token_id=0, eos_token_id=0, initializer_range=0.02,
)


class FIMSampler:
    """Draws training sequences (length seq+1, padded with -1) from a list of documents."""

    def __init__(self, docs: list[str], tok: Tokenizer, seq: int, fim_rate: float, holes: str = "mixed"):
        self.docs, self.tok, self.seq, self.fim_rate, self.holes = docs, tok, seq, fim_rate, holes
        sizes = np.array([len(d) for d in docs], dtype=np.float64)
        self.cum = np.cumsum(sizes) / sizes.sum()
        ids = {t: tok.token_to_id(t) for t in ("<|endoftext|>", "<fim_prefix>", "<fim_suffix>", "<fim_middle>")}
        self.eos, self.fp, self.fs, self.fm = (ids[k] for k in ("<|endoftext|>", "<fim_prefix>", "<fim_suffix>",
                                                                 "<fim_middle>"))
        self.window_chars = seq * 4

    def window(self, rng) -> tuple[str, bool]:
        d = self.docs[min(int(np.searchsorted(self.cum, rng.random())), len(self.docs) - 1)]
        if len(d) <= self.window_chars:
            return d, True
        s = int(rng.integers(0, len(d) - self.window_chars // 2))
        nl = d.rfind("\n", 0, s)  # start at a line start so indentation is seen as it is
        s = nl + 1
        w = d[s:s + self.window_chars]
        return w, s + self.window_chars >= len(d)

    def encode(self, texts):
        return [e.ids for e in self.tok.encode_batch(texts, add_special_tokens=False)]

    def sample(self, rng) -> list[int]:
        text, at_end = self.window(rng)
        n = self.seq + 1
        if rng.random() >= self.fim_rate or len(text) < 8:
            (ids,) = self.encode([text])
            return (ids + ([self.eos] if at_end else []))[:n]
        r = rng.random()
        if self.holes == "cursor" and r < 0.5:
            # the editor's case: the cursor after a line's indentation, the hole to the end of 1-3 lines
            i = int(rng.integers(0, len(text)))
            i = text.rfind("\n", 0, i) + 1
            while i < len(text) and text[i] in " \t":
                i += 1
            j = i
            for _ in range(int(rng.integers(1, 4))):
                k = text.find("\n", j)
                j = len(text) if k < 0 else k + 1
        elif r < (0.75 if self.holes == "cursor" else 0.5):
            # a completion-sized hole: from a random point in a line to the end of that line (1-3 lines)
            i = int(rng.integers(0, len(text)))
            j = i
            for _ in range(int(rng.integers(1, 4))):
                k = text.find("\n", j)
                j = len(text) if k < 0 else k + 1
        else:
            i, j = sorted(int(x) for x in rng.integers(0, len(text) + 1, size=2))
        pre, mid, suf = self.encode([text[:i], text[i:j], text[j:]])
        if self.holes == "cursor" and len(mid) > n // 3:
            # a cut middle does not end: no end-of-text after it
            mid = mid[: n // 3]
            room = n - 3 - len(mid)
            suf = suf[: max(room // 3, room - len(pre))]
            pre = pre[max(0, len(pre) - (room - len(suf))):]
            return [self.fp] + pre + [self.fs] + suf + [self.fm] + mid
        mid = mid[: n // 3]
        room = n - 4 - len(mid)
        suf = suf[: max(room // 3, room - len(pre))]
        pre = pre[max(0, len(pre) - (room - len(suf))):]
        return [self.fp] + pre + [self.fs] + suf + [self.fm] + mid + [self.eos]

    def batch(self, rng, size: int) -> torch.Tensor:
        out = torch.full((size, self.seq + 1), -1, dtype=torch.long)
        for b in range(size):
            ids = self.sample(rng)
            out[b, :len(ids)] = torch.tensor(ids, dtype=torch.long)
        return out


def lr_at(step: int, args) -> float:
    """Warmup, a constant stage, then a cosine decay over the last `decay_frac` of the steps (warmup-stable-decay).

    Before the decay starts the rate does not depend on `--steps`, so a run can be resumed with a different
    `--steps` and still equal a run that had that value from the start.
    """
    if step < args.warmup:
        return args.lr * (step + 1) / args.warmup
    decay_start = int(args.steps * (1 - args.decay_frac))
    if step < decay_start:
        return args.lr
    p = (step - decay_start) / max(1, args.steps - decay_start)
    return args.lr * (args.min_lr_ratio + (1 - args.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, p))))


def loss_of(model, batch: torch.Tensor, device) -> tuple[torch.Tensor, torch.Tensor]:
    batch = batch.to(device)
    inputs = batch[:, :-1].clamp(min=0)
    labels = batch[:, 1:].clone()
    labels[labels < 0] = -100
    out = model(input_ids=inputs, output_router_logits=True)
    lm = torch.nn.functional.cross_entropy(out.logits.float().reshape(-1, out.logits.size(-1)), labels.reshape(-1),
                                           ignore_index=-100)
    return lm, out.aux_loss


@torch.no_grad()
def heldout_loss(model, batches, device) -> float:
    model.eval()
    tot, n = 0.0, 0
    for b in batches:
        lm, _ = loss_of(model, b, device)
        k = int((b[:, 1:] >= 0).sum())
        tot, n = tot + lm.item() * k, n + k
    model.train()
    return tot / n


def load_docs(path: Path) -> list[str]:
    with open(path) as f:
        return [json.loads(l)["text"] for l in f]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO / "tools/train/work/data"))
    ap.add_argument("--tokenizer", default=str(REPO / "tools/train/work/tokenizer.json"))
    ap.add_argument("--out", default=str(REPO / "tools/train/work/run"))
    ap.add_argument("--steps", type=int, default=1600)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--decay-frac", type=float, default=0.25, help="share of the steps spent decaying the rate")
    ap.add_argument("--weight-decay", type=float, default=0.1)
    ap.add_argument("--fim-rate", type=float, default=0.5)
    ap.add_argument("--holes", choices=["mixed", "cursor"], default="mixed",
                    help="FIM holes: mixed (stage 1: half from a random point to the end of 1-3 lines, half uniform "
                         "spans); cursor (stage 2: half start after a line's indentation, a quarter at a random point, "
                         "a quarter uniform; a middle cut to fit gets no end-of-text)")
    ap.add_argument("--init", default=None, help="start from this HF checkpoint (stage 2) instead of random weights")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="auto", help="auto (cuda when present), cpu or cuda")
    ap.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=True,
                    help="bfloat16 autocast (default; fast on CPUs with AVX512-BF16 and on GPUs)")
    ap.add_argument("--ckpt-minutes", type=float, default=5.0)
    ap.add_argument("--eval-every", type=int, default=100)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--max-minutes", type=float, default=0, help="stop (after a checkpoint) after this long; 0: never")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    device = torch.device("cuda" if args.device == "auto" and torch.cuda.is_available() else
                          ("cpu" if args.device == "auto" else args.device))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer.from_file(args.tokenizer)
    assert tok.get_vocab_size() == MODEL_CONFIG["vocab_size"], "tokenizer and model vocab differ"
    train = FIMSampler(load_docs(Path(args.data) / "train.jsonl"), tok, args.seq, args.fim_rate, args.holes)
    held = FIMSampler(load_docs(Path(args.data) / "heldout.jsonl"), tok, args.seq, 0.0)
    held_batches = [held.batch(np.random.default_rng([args.seed, 1 << 40, i]), args.batch) for i in range(4)]

    torch.manual_seed(args.seed)
    config = Qwen2MoeConfig(**MODEL_CONFIG)
    model = (Qwen2MoeForCausalLM.from_pretrained(args.init, dtype=torch.float32) if args.init
             else Qwen2MoeForCausalLM(config)).to(device)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    step, tokens_seen, elapsed_before, history = 0, 0, 0.0, []
    ckpt = out / "ckpt.pt"
    if ckpt.exists():
        state = torch.load(ckpt, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        step, tokens_seen, elapsed_before, history = (state["step"], state["tokens"], state["elapsed"],
                                                      state["history"])
        print(f"resumed at step {step} ({tokens_seen} tokens, {elapsed_before / 60:.1f} min so far)", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {n_params / 1e6:.2f}M parameters; device {device}; {len(train.docs)} train files; "
          f"{args.steps} steps x {args.batch} x {args.seq}", flush=True)

    def save():
        tmp = out / "ckpt.pt.tmp"
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "tokens": tokens_seen,
                    "elapsed": elapsed_before + time.time() - t_start, "history": history,
                    "args": vars(args), "config": MODEL_CONFIG}, tmp)
        os.replace(tmp, ckpt)

    model.train()
    t_start = time.time()
    last_ckpt, t_log, tok_log = t_start, t_start, 0
    while step < args.steps:
        batch = train.batch(np.random.default_rng([args.seed, step]), args.batch)
        for g in opt.param_groups:
            g["lr"] = lr_at(step, args)
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=args.bf16):
            lm, aux = loss_of(model, batch, device)
        loss = lm + config.router_aux_loss_coef * aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        n_tok = int((batch[:, 1:] >= 0).sum())
        tokens_seen += n_tok
        tok_log += n_tok
        if step % args.log_every == 0 or step == args.steps:
            now = time.time()
            rate = tok_log / (now - t_log)
            eta = (args.steps - step) * (now - t_log) / args.log_every
            print(f"step {step}/{args.steps} loss {lm.item():.4f} aux {aux.item():.3f} gnorm {gnorm:.2f} "
                  f"lr {lr_at(step - 1, args):.2e} {rate:.0f} tok/s tokens {tokens_seen / 1e6:.2f}M "
                  f"elapsed {(elapsed_before + now - t_start) / 60:.1f} min ETA {eta / 60:.1f} min", flush=True)
            t_log, tok_log = now, 0
        if step % args.eval_every == 0 or step == args.steps:
            hl = heldout_loss(model, held_batches, device)
            history.append({"step": step, "tokens": tokens_seen, "train_loss": lm.item(), "heldout_loss": hl,
                            "minutes": (elapsed_before + time.time() - t_start) / 60})
            print(f"  held-out loss {hl:.4f} (ppl {math.exp(hl):.2f})", flush=True)
        if time.time() - last_ckpt > args.ckpt_minutes * 60 or step == args.steps:
            save()
            last_ckpt = time.time()
        if args.max_minutes and time.time() - t_start > args.max_minutes * 60:
            save()
            print(f"stopping after {args.max_minutes} min at step {step}; rerun to resume", flush=True)
            return
    final = out / "final"
    model.save_pretrained(final, safe_serialization=True)
    tok.save(str(final / "tokenizer.json"))
    summary = {"steps": step, "tokens": tokens_seen, "minutes": (elapsed_before + time.time() - t_start) / 60,
               "final_train_loss": history[-1]["train_loss"], "final_heldout_loss": history[-1]["heldout_loss"],
               "parameters": n_params, "args": vars(args), "history": history,
               "torch": torch.__version__, "device": str(device), "threads": args.threads}
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(f"done: {step} steps, {tokens_seen / 1e6:.2f}M tokens, {summary['minutes']:.1f} min; saved {final}",
          flush=True)


if __name__ == "__main__":
    main()
