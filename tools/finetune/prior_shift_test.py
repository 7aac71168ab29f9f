#!/usr/bin/env python3
"""Tests of prior_shift.py on a made-up repository: python3 tools/finetune/prior_shift_test.py"""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import prior_shift  # noqa: E402


class PriorShiftTests(unittest.TestCase):
    def test_groups_and_rates(self):
        with tempfile.TemporaryDirectory() as site:
            os.makedirs(os.path.join(site, "pkg"))
            files = {
                "pkg/a.py": "import os\nx = 1\nreturn x\n",  # training: 3 lines
                "pkg/b.py": "y = 2\nreturn x\nz = 3\n",  # training: 3 lines
                "pkg/held.py": "@overload\ndef f(): ...\n@overload\nreturn x\nq = 9\n",
            }
            for path, text in files.items():
                with open(os.path.join(site, path), "w") as f:
                    f.write(text)

            def probe(line, expected, written):
                return {"path": "pkg/held.py", "line": line, "expected": expected, "written": written,
                        "exact": written == expected}
            summary = {
                "repository": {"train_files": ["pkg/a.py", "pkg/b.py"], "heldout_files": ["pkg/held.py"]},
                "before": {"probes": [probe(2, "@overload", "@overload"), probe(3, "return x", "pass"),
                                      probe(4, "q = 9", "q = 9"), probe(1, "def f(): ...", "nope")]},
                "after": {"probes": [probe(2, "@overload", "def f(): ..."), probe(3, "return x", "return x"),
                                     probe(4, "q = 9", "q = 9"), probe(1, "def f(): ...", "nah")]},
            }
            r = prior_shift.analyse(summary, site)
        self.assertEqual(r["train_lines"], 6)
        g = r["groups"]
        self.assertEqual((g["lost"]["probes"], g["gained"]["probes"], g["kept"]["probes"], g["wrong"]["probes"]),
                         (1, 1, 1, 1))
        # lost: "@overload" never in training, once in the 2 lines above it
        self.assertEqual((g["lost"]["in_training"], g["lost"]["context_only"]), (0, 1))
        self.assertAlmostEqual(g["lost"]["mean_context_per_1k"], 500.0)
        self.assertEqual(g["lost"]["written_after_in_training"], 0)
        # gained: "return x" twice in 6 training lines, not above it
        self.assertEqual((g["gained"]["in_training"], g["gained"]["context_only"]), (1, 0))
        self.assertAlmostEqual(g["gained"]["mean_train_per_1k"], 1000 * 2 / 6)
        # kept: "q = 9" in neither
        self.assertEqual((g["kept"]["in_training"], g["kept"]["context_only"]), (0, 0))


if __name__ == "__main__":
    unittest.main()
