"""Sandboxed execution worker for `moecoder testgen`.

Started by the Swift side as `python3 testgen_worker.py MODULE.py WORKDIR [MEMORY_MB]`. It imports the target
module once, then reads one JSON request per line on stdin and answers one JSON line on stdout.

A request is a test case: a list of steps, each a Python expression (written by the generator, so it can be
copied verbatim into the pytest file), optionally bound to a name:

    {"id": 7, "steps": [{"expr": "shop.Cart(limit=2)", "bind": "cart"},
                        {"expr": "cart.add('pen', 3)"}], "watch": ["cart"], "timeout": 1.0}

The answer has, per step, the observed outcome (a value description or the exception raised), the final state of
the watched names, and the line arcs executed in the target file:

    {"id": 7, "steps": [{"value": {...}}, {"raised": {...}}], "state": {"cart": {...}}, "arcs": [[3, 4], ...]}

Sandbox: the worker runs in WORKDIR (its own temporary folder) with limits on memory (RLIMIT_AS), file size
(RLIMIT_FSIZE), CPU time (RLIMIT_CPU) and processes (RLIMIT_NPROC); an audit hook refuses process creation,
network use and any write, removal or rename outside WORKDIR; each case runs under a SIGALRM time limit. The
network is also cut at the OS level when the Swift side starts it under `unshare -n`.
"""

import ast
import builtins
import copy
import importlib.machinery
import importlib.util
import io
import json
import math
import operator
import os
import pathlib
import pickle
import random
import resource
import signal
import sys
import time
import traceback
import types

MODULE_PATH = os.path.realpath(sys.argv[1])
WORKDIR = os.path.realpath(sys.argv[2])
MEMORY_MB = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
MODULE_NAME = pathlib.Path(MODULE_PATH).stem

# The protocol channel: the real stdout, kept aside; the module's own prints go to a sink. File descriptors 1
# and 2 go to /dev/null, so that code writing to them directly (os.write(1, ...), sys.__stdout__) cannot flood
# the protocol or the caller's terminal.
# Only when this file is the worker itself: repair_worker.py imports it for the sandbox and keeps its own stdout.
PROTOCOL = None
REQUESTS = sys.stdin


def _take_protocol_channel():
    global PROTOCOL, REQUESTS
    PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    sys.__stdout__ = sys.stdout = open(1, "w", closefd=False)
    sys.__stderr__ = sys.stderr = open(2, "w", closefd=False)
    # Requests likewise: code that reads standard input (`input()`, `sys.stdin.readline()`, `cmd.Cmd.cmdloop`)
    # reads an empty /dev/null, not the next requests of a batch.
    REQUESTS = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    sys.__stdin__ = sys.stdin = open(0, "r", closefd=False)


class _Sink(io.TextIOBase):
    """Where the module's prints go during a case: counted, not kept (a case may print gigabytes). Like a real
    `sys.stdout` (and pytest's captured one) it has an encoding and a binary `buffer`, which counts what code
    writes through `sys.stdout.buffer.write` into the same total."""

    def __init__(self):
        self.written = 0
        self.buffer = _BinarySink(self)

    @property
    def encoding(self):
        return "utf-8"

    def writable(self):
        return True

    def write(self, text):
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.written += len(text)
        return len(text)


class _BinarySink(io.RawIOBase):
    def __init__(self, text):
        self._text = text

    def writable(self):
        return True

    def write(self, data):
        size = len(memoryview(data).cast("B"))
        self._text.written += size
        return size


class CaseTimeout(BaseException):
    """Raised inside the running case by the SIGALRM handler (a BaseException so `except Exception` in user
    code does not swallow it)."""


class SandboxViolation(PermissionError):
    """What the audit hook raises for a forbidden operation."""


# ---------------------------------------------------------------------------------------------------------
# Sandbox


def _inside_workdir(path):
    try:
        if isinstance(path, int):
            return True  # an already-open descriptor
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        real = os.path.realpath(os.path.join(WORKDIR, os.fspath(path)))
    except Exception:
        return False
    return real == WORKDIR or real.startswith(WORKDIR + os.sep) or real == os.devnull


_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_PROCESS_EVENTS = {"os.fork", "os.forkpty", "os.system", "os.exec", "os.posix_spawn", "os.spawn",
                   "subprocess.Popen", "os.startfile", "pty.spawn"}
_NETWORK_EVENTS = {"socket.connect", "socket.bind", "socket.getaddrinfo", "socket.sendto",
                   "socket.gethostbyname", "socket.gethostbyaddr", "urllib.Request"}
_PATH_EVENTS = {"os.remove", "os.rmdir", "os.mkdir", "os.chmod", "os.chown", "os.truncate", "os.utime",
                "os.link", "os.symlink", "shutil.rmtree", "shutil.copyfile", "shutil.move", "os.chflags"}
_TWO_PATH_EVENTS = {"os.rename", "os.replace"}
_armed = False


def _audit(event, args):
    if not _armed:
        return
    if event == "open":
        path, mode, flags = args
        writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
            isinstance(flags, int) and flags & _WRITE_FLAGS)
        if writing and path is not None and not _inside_workdir(path):
            raise SandboxViolation(f"testgen sandbox: writing {path!r} outside the work folder is not allowed")
    elif event in _PROCESS_EVENTS:
        raise SandboxViolation(f"testgen sandbox: starting processes is not allowed ({event})")
    elif event in _NETWORK_EVENTS:
        raise SandboxViolation(f"testgen sandbox: network access is not allowed ({event})")
    elif event in _PATH_EVENTS:
        if args and not _inside_workdir(args[0]):
            raise SandboxViolation(f"testgen sandbox: {event} outside the work folder is not allowed")
    elif event in _TWO_PATH_EVENTS:
        if not all(_inside_workdir(a) for a in args[:2]):
            raise SandboxViolation(f"testgen sandbox: {event} outside the work folder is not allowed")


def _limit(kind, value):
    try:
        soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, hard))
    except (ValueError, OSError):
        pass


def enter_sandbox():
    global _armed
    os.setpgrp()  # the Swift side kills the whole group when a case hangs
    os.chdir(WORKDIR)
    os.environ["HOME"] = WORKDIR
    os.environ["TMPDIR"] = WORKDIR
    sys.dont_write_bytecode = True
    _limit(resource.RLIMIT_AS, MEMORY_MB * 1024 * 1024)
    _limit(resource.RLIMIT_FSIZE, 64 * 1024 * 1024)
    _limit(resource.RLIMIT_CPU, 3600)
    _limit(resource.RLIMIT_NPROC, 0 if os.getuid() != 0 else 4096)
    _limit(resource.RLIMIT_CORE, 0)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # oversized writes raise OSError instead of killing us
    # The parent's threads may block signals, and the mask survives exec: the per-case alarm needs SIGALRM.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGALRM, signal.SIGINT, signal.SIGTERM})
    _become_subreaper()
    sys.addaudithook(_audit)
    _armed = True
    sys.setrecursionlimit(1000)


def _become_subreaper():
    """Orphaned descendants of a case are re-parented to the worker, so that `_kill_children` finds them."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except Exception:
        pass


def _children():
    pids = set()
    try:
        for task in os.listdir("/proc/self/task"):
            try:
                with open(f"/proc/self/task/{task}/children") as handle:
                    pids.update(int(p) for p in handle.read().split())
            except OSError:
                pass
    except OSError:
        pass
    return pids


def _kill_children():
    """Kills (and reaps) every process a case started, even through ctypes; returns how many there were."""
    killed = 0
    for _ in range(20):
        pids = _children()
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except OSError:
                pass
    while True:  # zombies of children that exited on their own
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        killed += 1
    return killed


_alarms = [0]  # how many times a case's time limit fired


def _on_alarm(signum, frame):
    _alarms[0] += 1
    raise CaseTimeout()


# ---------------------------------------------------------------------------------------------------------
# Coverage: line arcs in the target file, like coverage.py's (negative numbers mark entry and exit).

_arcs = set()


def _make_local_tracer():
    last = [None]

    def local(frame, event, arg):
        if event == "line":
            line = frame.f_lineno
            _arcs.add((last[0], line))
            last[0] = line
        elif event == "return":
            _arcs.add((last[0], -frame.f_code.co_firstlineno))
        return local

    return local, last


def _global_tracer(frame, event, arg):
    if event == "call" and frame.f_code.co_filename == MODULE_PATH:
        local, last = _make_local_tracer()
        last[0] = -frame.f_code.co_firstlineno
        return local
    return None


# ---------------------------------------------------------------------------------------------------------
# Comparison log (input-to-state feedback): the module the search runs is compiled with every one-operator
# comparison `a OP b` (==, !=, <, <=, >, >=, in, not in) replaced by a call that evaluates it the same way and
# notes its operands when they are short strings, bytes or numbers. Each case's answer lists the pairs
# (seen, wanted) not reported before, as Python literals: the search replaces `seen` in the case's arguments by
# `wanted` (`if token == self.eof`, `if c in self.quotes`, `if n > LIMIT`) and adds `wanted` to the values its
# mutations insert. The replay and the mutation analysis run the module as written, not this copy.

_CMP_OPS = (operator.eq, operator.ne, operator.lt, operator.le, operator.gt, operator.ge,
            lambda a, b: a in b, lambda a, b: a not in b)
_CMP_CODES = {ast.Eq: 0, ast.NotEq: 1, ast.Lt: 2, ast.LtE: 3, ast.Gt: 4, ast.GtE: 5, ast.In: 6, ast.NotIn: 7}
_cmp_on = False
_cmp_pairs = []
_cmp_known = set()
_CMP_PER_CASE = 24
_CMP_KNOWN_LIMIT = 50000


def _cmp_scalar(value):
    kind = type(value)
    if kind is str or kind is bytes:
        return len(value) <= 40
    if kind is int:
        return -(1 << 62) < value < (1 << 62)
    if kind is float:
        return math.isfinite(value)
    return False


_NOTHING = object()


def _cmp_note(seen, wanted):
    """`wanted` is a value the module compared `seen` with (`seen` _NOTHING: a value it looked for)."""
    if seen is not _NOTHING and seen == wanted and type(seen) is type(wanted):
        return
    try:
        pair = ("" if seen is _NOTHING else repr(seen), repr(wanted))
    except Exception:
        return
    if pair in _cmp_known or len(_cmp_known) >= _CMP_KNOWN_LIMIT:
        return
    _cmp_known.add(pair)
    _cmp_pairs.append(list(pair))


def _cmp_record(code, a, b):
    if code >= 6:  # a in b
        if not _cmp_scalar(a):
            return
        kind = type(b)
        if kind is str or kind is bytes:
            if type(a) is kind and len(a) == 1 and len(b) <= 200:
                for item in _spread_characters(b):
                    _cmp_note(a, item)
            elif type(a) is kind and len(a) > 1 and len(a) <= 40:
                _cmp_note(_NOTHING, a)
        elif kind in (dict, set, frozenset, list, tuple) and len(b) <= 400:
            items = [item for item in b if type(item) is type(a) and _cmp_scalar(item)]
            items.sort(key=repr)
            for item in items[:: max(1, len(items) // 8)][:8]:
                _cmp_note(a, item)
        return
    if not (_cmp_scalar(a) and _cmp_scalar(b)):
        return
    _cmp_note(a, b)
    _cmp_note(b, a)
    if code >= 2 and type(b) is int and type(a) in (int, float):  # an ordering against an integer: its neighbours
        _cmp_note(a, b + 1)
        _cmp_note(a, b - 1)


_cmp_budget = [0]  # comparisons still noted in this case (a loop's thousands cost little once it runs out)


_spread = {}


def _spread_characters(text):
    """Up to 6 distinct characters of `text`, spread over it (cached: the same sets are tested in loops)."""
    found = _spread.get(text)
    if found is None:
        items = list(dict.fromkeys(text[i:i + 1] for i in range(len(text))))
        found = items[:: max(1, len(items) // 6)][:6]
        if len(_spread) < 1000:
            _spread[text] = found
    return found


def _testgen_cmp_(code, a, b):
    result = _CMP_OPS[code](a, b)
    if _cmp_on and _cmp_budget[0] > 0 and len(_cmp_pairs) < _CMP_PER_CASE:
        _cmp_budget[0] -= 1
        try:
            _cmp_record(code, a, b)
        except Exception:
            pass
    return result


def _resized(value, size):
    """`value` (a short str, bytes or list) cut or padded (repeating its last item, or 'a') to `size` items."""
    if size <= len(value):
        return value[:size]
    if isinstance(value, list):
        return value + [value[-1] if value else 0] * (size - len(value))
    filler = value[-1:] or ("a" if isinstance(value, str) else b"a")
    return value + filler * (size - len(value))


def _testgen_len_cmp_(code, value, other):
    """`len(value) OP other`, noting `value` resized to the length it was compared with (branch distance on
    lengths: the search substitutes the resized value into the argument that held it)."""
    size = len(value)
    result = _CMP_OPS[code](size, other)
    if _cmp_on and _cmp_budget[0] > 0 and len(_cmp_pairs) < _CMP_PER_CASE and code < 6:
        _cmp_budget[0] -= 1
        try:
            if type(other) is int and 0 <= other <= 40 and type(value) in (str, bytes, list) and size <= 40 \
                    and (type(value) is not list or all(_cmp_scalar(item) for item in value)):
                for wanted in {other, other + 1, max(0, other - 1)} if code >= 2 else {other}:
                    if wanted != size:
                        _cmp_note(value, _resized(value, wanted))
            _cmp_record(code, size, other)
        except Exception:
            pass
    return result


def _testgen_affix_(value, name, *args):
    """`value.startswith(...)` / `value.endswith(...)`, noting `value` with the wanted prefix or suffix added when
    the test fails (and the affix itself, for value mutations)."""
    result = getattr(value, name)(*args)
    if not result and _cmp_on and _cmp_budget[0] > 0 and len(_cmp_pairs) < _CMP_PER_CASE and len(args) == 1:
        _cmp_budget[0] -= 1
        try:
            affixes = args[0] if type(args[0]) is tuple else (args[0],)
            if type(value) in (str, bytes) and len(value) <= 40:
                for affix in affixes[:4]:
                    if type(affix) is type(value) and 0 < len(affix) <= 20:
                        _cmp_note(value, affix + value if name == "startswith" else value + affix)
                        _cmp_note(_NOTHING, affix)
        except Exception:
            pass
    return result


_REMATCH_METHODS = ("match", "fullmatch", "search")
_rematch_examples = {}


def _testgen_rematch_(receiver, name, *args):
    """`receiver.match(value, ...)` (also `fullmatch`, `search`; `receiver` a compiled pattern, or the `re` module
    with the pattern first), noting, when nothing matched a short string, strings the pattern matches in its place
    (built from the pattern as it is at run time, which the patterns listed at import do not hold: a pattern the
    module compiles from a format the caller gave)."""
    result = getattr(receiver, name)(*args)
    if result is None and _cmp_on and _cmp_budget[0] > 0 and len(_cmp_pairs) < _CMP_PER_CASE:
        _cmp_budget[0] -= 1
        try:
            if isinstance(receiver, _re.Pattern) and args:
                pattern, flags, value = receiver.pattern, receiver.flags, args[0]
            elif receiver is _re and len(args) >= 2:
                pattern, value = args[0], args[1]
                flags = args[2] if len(args) > 2 and type(args[2]) is int else 0
                if isinstance(pattern, _re.Pattern):
                    pattern, flags = pattern.pattern, pattern.flags
            else:
                return result
            if type(value) in (str, bytes) and len(value) <= 40 and type(pattern) is type(value) \
                    and len(pattern) <= 5000:
                key = (pattern, flags)
                examples = _rematch_examples.get(key)
                if examples is None:
                    examples = regex_examples(pattern, flags, random.Random(len(pattern)))
                    if len(_rematch_examples) < 500:
                        _rematch_examples[key] = examples
                for example in examples[:3]:
                    if len(example) <= 80:
                        _cmp_note(value, example)
        except Exception:
            pass
    return result


_ISINSTANCE_BUILTINS = (int, float, str, bytes, list, tuple, dict, set, frozenset, complex, bool)


def _converted(value, kind):
    """`value` as an instance of the builtin `kind`, keeping what it can of it (`'12'` -> 12, 3.0 -> 3, 'ab' ->
    b'ab', x -> [x]); None when there is no sensible one."""
    try:
        if kind is bool:
            return bool(value)
        if kind is int:
            return int(value) if type(value) in (float, str, bytes) and not (type(value) is float and not
                                                                             math.isfinite(value)) else 1
        if kind is float:
            return float(value) if type(value) in (int, str, bytes) else 1.5
        if kind is complex:
            return complex(value) if type(value) in (int, float) else 1j
        if kind is str:
            return value.decode("latin-1") if type(value) is bytes else str(value)
        if kind is bytes:
            return value.encode("utf-8") if type(value) is str else b"a"
        if kind is list:
            return [value]
        if kind is tuple:
            return (value,)
        if kind is set:
            return {value}
        if kind is frozenset:
            return frozenset({value})
        if kind is dict:
            return {value: value} if type(value) in (str, int, bytes) else {"a": value}
    except (ValueError, TypeError, OverflowError, UnicodeError):
        pass
    return {int: 1, float: 1.5, complex: 1j}.get(kind)


def _testgen_isinstance_(value, classinfo):
    """`isinstance(value, classinfo)`, noting, when it is false for a short value the search can replace, the
    value converted to the builtin types that would pass (`isinstance(x, int)` with x = '12' -> 12; an ABC such as
    `numbers.Rational` -> int): the branch for that type is then tried with it."""
    result = isinstance(value, classinfo)
    if not result and _cmp_on and _cmp_budget[0] > 0 and len(_cmp_pairs) < _CMP_PER_CASE:
        _cmp_budget[0] -= 1
        try:
            if _cmp_scalar(value) or (type(value) in (list, tuple) and len(value) <= 6
                                      and all(_cmp_scalar(item) for item in value)):
                kinds = classinfo if type(classinfo) is tuple else (classinfo,)
                found = 0
                for kind in kinds:
                    if found >= 2 or not isinstance(kind, type) or kind is object:
                        continue
                    for builtin in _ISINSTANCE_BUILTINS:
                        if found < 2 and issubclass(builtin, kind):
                            example = _converted(value, builtin)
                            if example is not None and isinstance(example, kind):
                                _cmp_note(value, example)
                                found += 1
                            break
        except Exception:
            pass
    return result


class _CmpInstrumenter(ast.NodeTransformer):
    def visit_Compare(self, node):
        self.generic_visit(node)
        if len(node.ops) != 1 or type(node.ops[0]) not in _CMP_CODES:
            return node
        left = node.left
        code = _CMP_CODES[type(node.ops[0])]
        if code < 6 and isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == "len" \
                and len(left.args) == 1 and not left.keywords and not isinstance(left.args[0], ast.Starred):
            call = ast.Call(func=ast.Name(id="_testgen_len_cmp_", ctx=ast.Load()),
                            args=[ast.Constant(code), left.args[0], node.comparators[0]], keywords=[])
            return ast.copy_location(call, node)
        call = ast.Call(func=ast.Name(id="_testgen_cmp_", ctx=ast.Load()),
                        args=[ast.Constant(code), node.left, node.comparators[0]],
                        keywords=[])
        return ast.copy_location(call, node)

    def visit_Call(self, node):
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Name) and func.id == "isinstance" and len(node.args) == 2 and not node.keywords \
                and not any(isinstance(a, ast.Starred) for a in node.args):
            call = ast.Call(func=ast.Name(id="_testgen_isinstance_", ctx=ast.Load()), args=node.args, keywords=[])
            return ast.copy_location(call, node)
        if isinstance(func, ast.Attribute) and func.attr in ("startswith", "endswith") and len(node.args) == 1 \
                and not node.keywords and not isinstance(node.args[0], ast.Starred):
            call = ast.Call(func=ast.Name(id="_testgen_affix_", ctx=ast.Load()),
                            args=[func.value, ast.Constant(func.attr), node.args[0]], keywords=[])
            return ast.copy_location(call, node)
        if isinstance(func, ast.Attribute) and func.attr in _REMATCH_METHODS and node.args and not node.keywords \
                and not any(isinstance(a, ast.Starred) for a in node.args):
            call = ast.Call(func=ast.Name(id="_testgen_rematch_", ctx=ast.Load()),
                            args=[func.value, ast.Constant(func.attr)] + node.args, keywords=[])
            return ast.copy_location(call, node)
        return node


def _instrumented_code(source):
    """The module's code with its comparisons logged; None when that fails (the module then runs as written)."""
    try:
        tree = _CmpInstrumenter().visit(ast.parse(source, MODULE_PATH))
        ast.fix_missing_locations(tree)
        return compile(tree, MODULE_PATH, "exec", dont_inherit=True)
    except Exception:
        return None


# ---------------------------------------------------------------------------------------------------------
# Strings for the module's regular expressions: the patterns it compiled at import (module and class attributes)
# and the literal patterns it passes to `re.compile`, `re.match`, `re.sub`… are parsed (`re._parser`) and walked
# to build strings they match (each alternative, repeats at their minimum and above, characters from each
# class), and near misses (one character dropped or added). The ready message lists them as Python literals;
# the search tries them in string arguments (of the call or of the receiver's constructor) and its value
# mutations insert them.

try:
    import re as _re
    import re._parser as _sre_parse
    import re._constants as _sre_c
except ImportError:  # Python < 3.11
    import re as _re
    import sre_parse as _sre_parse
    import sre_constants as _sre_c

_REGEX_MARKS = ("(?P<", "(?:", "\\d", "\\s", "\\w", "\\b", "[^", "]+", "]*")
_RE_FUNCTIONS = {"compile", "match", "fullmatch", "search", "sub", "subn", "split", "findall", "finditer"}
_REGEX_PER_PATTERN = 8
_REGEX_LIMIT = 120
_WORD = "abcxyzABZ019_"


def _category_char(category, rng):
    name = str(category)
    if name.endswith("NOT_DIGIT"):
        return rng.choice("aZ_ -")
    if name.endswith("DIGIT"):
        return rng.choice("0179")
    if name.endswith("NOT_SPACE"):
        return rng.choice("aZ0-")
    if name.endswith("SPACE"):
        return rng.choice(" \t\n")
    if name.endswith("NOT_WORD"):
        return rng.choice(" -.!")
    if name.endswith("WORD"):
        return rng.choice(_WORD)
    if name.endswith("NOT_LINEBREAK"):
        return "a"
    if name.endswith("LINEBREAK"):
        return "\n"
    return "a"


def _in_class(items, char):
    """Whether `char` is in a parsed character class (without its NEGATE)."""
    for op, av in items:
        if op is _sre_c.LITERAL and chr(av) == char:
            return True
        if op is _sre_c.RANGE and av[0] <= ord(char) <= av[1]:
            return True
        if op is _sre_c.CATEGORY:
            name = str(av)
            tests = {"DIGIT": str.isdigit, "SPACE": str.isspace, "WORD": lambda c: c.isalnum() or c == "_",
                     "LINEBREAK": lambda c: c == "\n"}
            for key, test in tests.items():
                if name.endswith(key):
                    negated = name.endswith("NOT_" + key)
                    if test(char) != negated:
                        return True
                    break
    return False


def _class_char(items, rng):
    if items and items[0][0] is _sre_c.NEGATE:
        rest = items[1:]
        for char in rng.sample("aZ09 _-.,:;!/x\n", 15):
            if not _in_class(rest, char):
                return char
        return "\x01"
    op, av = rng.choice(items)
    if op is _sre_c.LITERAL:
        return chr(av)
    if op is _sre_c.RANGE:
        return chr(rng.choice([av[0], av[1], rng.randint(av[0], av[1])]))
    if op is _sre_c.CATEGORY:
        return _category_char(av, rng)
    return "a"


def _regex_walk(sequence, rng, groups, depth=0):
    if depth > 40:
        return ""
    out = []
    for op, av in sequence:
        if op is _sre_c.LITERAL:
            out.append(chr(av))
        elif op is _sre_c.NOT_LITERAL:
            out.append("a" if chr(av) != "a" else "b")
        elif op is _sre_c.ANY:
            out.append(rng.choice("ax0 "))
        elif op is _sre_c.IN:
            out.append(_class_char(av, rng))
        elif op is _sre_c.CATEGORY:
            out.append(_category_char(av, rng))
        elif op is _sre_c.BRANCH:
            out.append(_regex_walk(rng.choice(av[1]), rng, groups, depth + 1))
        elif op is _sre_c.SUBPATTERN:
            text = _regex_walk(av[-1], rng, groups, depth + 1)
            if av[0] is not None:
                groups[av[0]] = text
            out.append(text)
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) or str(op) == "POSSESSIVE_REPEAT":
            low, high, inner = av
            high = low + 3 if high == _sre_c.MAXREPEAT else min(high, low + 3)
            count = rng.choice([low, low, min(low + 1, high), rng.randint(low, high)])
            out.extend(_regex_walk(inner, rng, groups, depth + 1) for _ in range(count))
        elif op is _sre_c.GROUPREF:
            out.append(groups.get(av, ""))
        elif op is _sre_c.GROUPREF_EXISTS:
            group, yes, no = av
            chosen = yes if group in groups else no
            if chosen is not None:
                out.append(_regex_walk(chosen, rng, groups, depth + 1))
        elif str(op) == "ATOMIC_GROUP":
            out.append(_regex_walk(av, rng, groups, depth + 1))
        # AT (anchors), ASSERT and ASSERT_NOT add nothing.
    return "".join(out)


def regex_examples(pattern, flags, rng):
    """Strings that `pattern` matches (and two near misses), at most _REGEX_PER_PATTERN, shortest first."""
    is_bytes = isinstance(pattern, bytes)
    try:
        text = pattern.decode("latin-1") if is_bytes else pattern
        parsed = _sre_parse.parse(text, flags & ~_re.UNICODE if is_bytes else flags)
        compiled = _re.compile(pattern, flags)
    except Exception:
        return []
    found = []
    for _ in range(4 * _REGEX_PER_PATTERN):
        try:
            candidate = _regex_walk(list(parsed), rng, {})
        except Exception:
            continue
        if len(candidate) > 60 or candidate in found:
            continue
        try:
            value = candidate.encode("latin-1") if is_bytes else candidate
            if compiled.match(value) is None:
                continue
        except Exception:
            continue
        found.append(candidate)
        if len(found) >= _REGEX_PER_PATTERN - 2:
            break
    found.sort(key=len)
    near = []
    for candidate in found[:2]:
        if len(candidate) > 1:
            near.append(candidate[:-1])
        near.append(candidate + rng.choice(" x0!"))
    examples = found + [c for c in near if c not in found][:2]
    if is_bytes:
        try:
            return [c.encode("latin-1") for c in examples]
        except UnicodeEncodeError:
            return []
    return examples


def _module_patterns(module, source):
    """(pattern, flags) of the regular expressions the module compiled at import or passes to `re` as literals."""
    found = []

    def add(pattern, flags):
        if isinstance(pattern, (str, bytes)) and pattern and (pattern, flags) not in found:
            found.append((pattern, flags))

    try:
        for value in list(vars(module).values()):
            if isinstance(value, _re.Pattern):
                add(value.pattern, value.flags)
            elif isinstance(value, type) and getattr(value, "__module__", None) == module.__name__:
                for attribute in list(vars(value).values()):
                    if isinstance(attribute, _re.Pattern):
                        add(attribute.pattern, attribute.flags)
    except Exception:
        pass
    try:
        tree = ast.parse(source)
    except Exception:
        return found
    namespace = dict(vars(module))
    for node in ast.walk(tree):
        # String literals that read like regular expressions (built into patterns at run time, or kept in a
        # table): they compile, and have a group, a class escape or a character class.
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and 4 <= len(node.value) <= 400 \
                and any(mark in node.value for mark in _REGEX_MARKS):
            flags = _re.VERBOSE if "\n" in node.value and "#" in node.value else 0
            try:
                _re.compile(node.value, flags)
                add(node.value, flags)
            except Exception:
                pass
            continue
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in _RE_FUNCTIONS and node.args):
            continue
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, (str, bytes))):
            continue
        if not (isinstance(node.func.value, ast.Name) and namespace.get(node.func.value.id) is _re):
            continue
        flags = 0
        flag_node = None
        if node.func.attr == "compile" and len(node.args) > 1:
            flag_node = node.args[1]
        for keyword in node.keywords:
            if keyword.arg == "flags":
                flag_node = keyword.value
        if flag_node is not None:
            try:
                flags = int(eval(compile(ast.Expression(flag_node), "<flags>", "eval"), namespace))
            except Exception:
                flags = 0
        add(first.value, flags)
    return found


def module_regex_strings(module, source):
    """Python literals of strings for the module's regular expressions (at most _REGEX_LIMIT), a few per
    pattern first, so that every pattern is represented."""
    import random as _random
    rng = _random.Random(1234)
    per_pattern = []
    for pattern, flags in _module_patterns(module, source)[:60]:
        try:
            per_pattern.append(regex_examples(pattern, flags, rng))
        except Exception:
            pass
    literals, seen = [], set()
    for round_ in range(_REGEX_PER_PATTERN):
        for examples in per_pattern:
            if round_ < len(examples):
                literal = repr(examples[round_])
                if literal not in seen and len(literals) < _REGEX_LIMIT:
                    seen.add(literal)
                    literals.append(literal)
    return literals


# ---------------------------------------------------------------------------------------------------------
# Argument vectors for command-line entry points (`main(args)`): the options and positionals the module declares
# with literal arguments (argparse's `add_argument`, optparse's `add_option`, `getopt.getopt(args, 'ab:',
# ['long='])`) give lists of strings: no arguments, each option alone (with each of its choices, or values of its
# `type`), the positionals filled one by one, and seeded combinations of a few options with positionals. The
# option parser runs outside the module, so the comparison log never sees what it wants. When the module slices
# an argument vector before parsing it
# (`parser.parse_args(args[1:])`), each vector starts with a program name. The ready message lists them as
# Python literals, with the parameters that hand an argument vector to a parser (or to a function that does);
# the search tries them there, and they join those pools.

_CLI_ADDERS = {"add_argument", "add_option"}
_CLI_PARSERS = {"parse_args", "parse_known_args", "parse_intermixed_args", "getopt", "gnu_getopt"}
_NO_VALUE_ACTIONS = {"store_true", "store_false", "store_const", "append_const", "count", "help", "version",
                     "callback"}
_EXITING_ACTIONS = {"help", "version"}
_ARGV_LIMIT = 60


def _literal(node):
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except Exception:
        return None


def _cli_values(keywords):
    """Strings an option or positional may take: its choices, else values of its type, and its default."""
    choices = _literal(keywords.get("choices"))
    if isinstance(choices, (list, tuple, set, frozenset)) and choices:
        return [str(c) for c in list(choices)[:6]]
    kind = keywords.get("type")
    kind = kind.id if isinstance(kind, ast.Name) else _literal(kind)
    default = _literal(keywords.get("default"))
    if kind in ("int", "long"):
        values = ["1", "2", "0", "-1", "10"]
    elif kind in ("float", "complex"):
        values = ["1.5", "0", "-2"]
    else:
        values = ["x", "a b", "1"]
    if default is not None and not isinstance(default, bool) and str(default) not in values:
        values.insert(0, str(default))
    return values


def _named_values(names, values):
    """Values an option's name asks for beyond its type: a codec name for an encoding, the C locale."""
    words = " ".join(names).lower()
    if "encoding" in words or "charset" in words:
        values = ["utf-8"] + values
    if "locale" in words:
        values = ["C"] + values
    return values


def _getopt_specs(call):
    """Options of a literal `getopt(args, 'ab:', ['long', 'name='])` call."""
    options = []
    short = _literal(call.args[1]) if len(call.args) > 1 else None
    if isinstance(short, str):
        for i, char in enumerate(short):
            if char in ":+-":
                continue
            takes = i + 1 < len(short) and short[i + 1] == ":"
            options.append(([f"-{char}"], takes, ["x", "1"] if takes else [], False))
    longs = _literal(call.args[2]) if len(call.args) > 2 else None
    if isinstance(longs, str):
        longs = [longs]
    if isinstance(longs, (list, tuple)):
        for name in longs:
            if isinstance(name, str) and name:
                takes = name.endswith("=")
                options.append(([f"--{name.rstrip('=')}"], takes, ["x", "1"] if takes else [], False))
    return options


def _argv_parameters(tree):
    """`target|parameter` of the functions and methods that hand a parameter (or its `[1:]` slice) to an option
    parser (`parse_args`, `getopt`…), and of those that pass one of their parameters on to such a function."""
    functions = []  # (qualified name, short name, parameter names, node)

    def visit(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                arguments = node.args
                names = [a.arg for a in arguments.posonlyargs + arguments.args + arguments.kwonlyargs]
                qualified = prefix[:-1] if node.name == "__init__" and prefix else prefix + node.name  # the class
                functions.append((qualified, node.name, names, node))
            elif isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")

    visit(tree.body, "")

    def parameter_of(node, names):
        if isinstance(node, ast.Subscript):
            node = node.value
        return node.id if isinstance(node, ast.Name) and node.id in names else None

    found = set()
    parsers = {}  # short name → positions of its argument-vector parameters
    for qualified, short, names, node in functions:
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and call.args and isinstance(call.func, (ast.Attribute, ast.Name)):
                called = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id
                name = parameter_of(call.args[0], names) if called in _CLI_PARSERS else None
                if name:
                    found.add(f"{qualified}|{name}")
                    parsers.setdefault(short, set()).add(names.index(name))
    for _ in range(2):  # callers that pass their own parameter on, two levels up
        for qualified, short, names, node in functions:
            for call in ast.walk(node):
                if not (isinstance(call, ast.Call) and isinstance(call.func, (ast.Attribute, ast.Name))):
                    continue
                called = call.func.attr if isinstance(call.func, ast.Attribute) else call.func.id
                if called not in parsers or called == short:
                    continue
                offset = 1 if isinstance(call.func, ast.Attribute) else 0  # a method's `self`
                for position, argument in enumerate(call.args):
                    name = parameter_of(argument, names)
                    if name and position + offset in parsers[called] | {p - 1 for p in parsers[called]}:
                        found.add(f"{qualified}|{name}")
                        parsers.setdefault(short, set()).add(names.index(name))
    return sorted(found)


def module_argv_vectors(source):
    """Python literals of argument vectors for the options and positionals the module declares, and the
    `target|parameter` pairs they are meant for (`_argv_parameters`)."""
    import random as _random
    try:
        tree = ast.parse(source)
    except Exception:
        return [], []
    targets = _argv_parameters(tree)
    if not targets:
        return [], []
    options, positionals, sliced = [], [], False
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else \
            node.func.id if isinstance(node.func, ast.Name) else ""
        first = node.args[0]
        if name in _CLI_PARSERS and isinstance(first, ast.Subscript) and isinstance(first.value, ast.Name) \
                and isinstance(first.slice, ast.Slice) and first.slice.upper is None and first.slice.step is None \
                and isinstance(first.slice.lower, ast.Constant) and first.slice.lower.value == 1:
            sliced = True  # `parser.parse_args(args[1:])`: the vector holds the program's name first
        if name in ("getopt", "gnu_getopt"):
            options += _getopt_specs(node)
            continue
        if name not in _CLI_ADDERS:
            continue
        names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if not names:
            continue
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        action = _literal(keywords.get("action"))
        nargs = _literal(keywords.get("nargs"))
        if names[0].startswith("-"):
            takes = action not in _NO_VALUE_ACTIONS and nargs != 0
            options.append((names, takes, _named_values(names, _cli_values(keywords)) if takes else [],
                            action in _EXITING_ACTIONS))
        else:
            positionals.append(_cli_values(keywords))
    if not options and not positionals:
        return [], []
    rng = _random.Random(4321)
    vectors, seen = [], set()

    def add(vector):
        if sliced:
            vector = ["prog"] + vector
        literal = repr(vector)
        if literal not in seen and len(vectors) < _ARGV_LIMIT:
            seen.add(literal)
            vectors.append(literal)

    def filled(count, pick=0):
        return [values[min(pick, len(values) - 1)] for values in positionals[:count]]

    def option_words(spec, value):
        names, takes = spec[0], spec[1]
        flag = rng.choice(names)
        if not takes:
            return [flag]
        if flag.startswith("--") and rng.random() < 0.3:
            return [f"{flag}={value}"]
        return [flag, value]

    add([])
    for count in range(1, len(positionals) + 1):
        add(filled(count))
    for spec in options:
        for value in (spec[2][:4] or [None]):
            add(option_words(spec, value) + filled(rng.randint(0, len(positionals))))
    ordinary = [spec for spec in options if not spec[3]]
    for _ in range(4 * _ARGV_LIMIT):
        if len(vectors) >= _ARGV_LIMIT:
            break
        vector = []
        if ordinary:
            for spec in rng.sample(ordinary, min(len(ordinary), rng.randint(1, 3))):
                vector += option_words(spec, rng.choice(spec[2]) if spec[2] else None)
        count = rng.randint(0, len(positionals))
        vector += filled(count, rng.randint(0, 2))
        add(vector)
    return vectors, targets


# ---------------------------------------------------------------------------------------------------------
# Observations: how a value is described so that the generator can assert on it.

MAX_REPR = 300


def _roundtrips(value, text):
    try:
        again = eval(text, _namespace_for_eval())
    except BaseException:
        return False
    try:
        return type(again) is type(value) and again == value and repr(again) == text
    except BaseException:
        return False


def _qualified_type(cls):
    if cls.__module__ == "builtins":
        # Only the types a test can name: `function`, `method`, `NoneType`… are not builtins.
        return cls.__qualname__ if getattr(builtins, cls.__qualname__, None) is cls else None
    if cls.__module__ == MODULE_NAME:
        return f"{MODULE_NAME}.{cls.__qualname__}"
    return None


def observe(value, depth=0):
    if value is None:
        return {"kind": "none"}
    if isinstance(value, bool):
        return {"kind": "bool", "value": value}
    if type(value) is float:
        if math.isnan(value):
            return {"kind": "nan"}
        if math.isinf(value):
            return {"kind": "eq", "repr": "float('inf')" if value > 0 else "float('-inf')"}
        return {"kind": "float", "repr": repr(value)}
    if isinstance(value, (io.StringIO, io.BytesIO)):
        try:
            return {"kind": "stream", "repr": repr(value.getvalue())}
        except ValueError:  # closed
            return {"kind": "type", "type": type(value).__name__}
    if isinstance(value, types.GeneratorType) or type(value).__name__ in ("map", "filter", "zip"):
        items = []
        try:
            for i, item in enumerate(value):
                if i >= 200:
                    return {"kind": "type", "type": type(value).__name__}
                items.append(item)
        except BaseException as error:
            return {"kind": "iter_raises", "type": _expressible(type(error))}
        text = repr(items)
        if len(text) <= MAX_REPR and _roundtrips(items, text):
            return {"kind": "iter", "repr": text}
        return {"kind": "iter_len", "len": len(items)}
    try:
        text = repr(value)
    except BaseException:
        text = None
    if text is not None and _roundtrips(value, text):
        if len(text) <= MAX_REPR:
            return {"kind": "eq", "repr": text}
        if isinstance(value, (str, bytes, list, tuple, dict, set, frozenset)):
            return {"kind": "len", "type": type(value).__name__, "len": len(value)}
        return {"kind": "type", "type": _qualified_type(type(value)) or type(value).__name__}
    name = _qualified_type(type(value))
    result = {"kind": "instance" if name else "type", "type": name or type(value).__name__}
    if depth == 0 and not isinstance(value, type):
        text = _readable_str(value)
        if text is not None:
            result["str"] = text
    if depth == 0 and hasattr(value, "__dict__") and not isinstance(value, type):
        attrs = {}
        for key, item in sorted(vars(value).items()):
            if key.startswith("__"):
                continue
            described = observe(item, depth + 1)
            if described["kind"] in ("none", "bool", "eq", "float", "nan", "len"):
                attrs[key] = described
        result["attrs"] = attrs
    try:
        if hasattr(value, "__len__") and not isinstance(value, type):
            result["len"] = len(value)
    except BaseException:
        pass
    return result


def _readable_str(value):
    """`str(value)` when it is short and shows no address (a stable oracle for objects without a literal)."""
    kind = type(value)
    if kind.__str__ is object.__str__ and kind.__repr__ is object.__repr__:
        return None
    try:
        text = str(value)
    except BaseException:
        return None
    # Braces: a set's order changes with the hash seed of the next process.
    if not isinstance(text, str) or len(text) > 200 or "0x" in text or " at " in text or "{" in text:
        return None
    return text


def _is_lazy(value):
    """Generators and other one-shot iterators (observing them would consume them)."""
    return isinstance(value, types.GeneratorType) or (hasattr(value, "__next__") and hasattr(value, "__iter__"))


def _expressible(cls):
    """The nearest class in the exception's MRO that a test can name: a builtin or one of the module's."""
    for base in cls.__mro__:
        name = _qualified_type(base)
        if name:
            return name
    return "Exception"


def describe_error(error):
    tb = error.__traceback__
    line = None
    explicit = False
    innermost_in_module = False
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == MODULE_PATH:
            line = tb.tb_lineno
            innermost_in_module = tb.tb_next is None
        tb = tb.tb_next
    if line is not None and innermost_in_module:
        try:
            source = _SOURCE_LINES[line - 1].strip()
            explicit = source.startswith("raise ") or source == "raise"
        except IndexError:
            pass
    # SystemExit is raised on purpose only (`sys.exit`, an argument parser's usage error): an outcome to assert,
    # wherever it was raised.
    explicit = explicit or isinstance(error, SystemExit)
    message = str(error) if not isinstance(error, RecursionError) else "maximum recursion depth exceeded"
    if len(message) > 500:
        message = message[:500]
    return {"type": type(error).__name__, "expressible": _expressible(type(error)), "message": message,
            "line": line, "explicit": explicit}


# ---------------------------------------------------------------------------------------------------------
# Running cases

# Accelerators: a module that ends by importing a compiled module over its own Python definitions
# (`try: from _bisect import * except ImportError: pass`, `from _functools import reduce`, quopri's binascii codecs)
# leaves the Python code unreachable, and that code is what coverage counts. As CPython's own tests do
# (`import_helper.import_fresh_module(name, blocked=[...])`), the search, the replays and the written tests import
# the module with those compiled modules blocked (None in sys.modules), so that the Python fallback runs.


def _catches_import_error(handler):
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError", "Exception",
                                                  "BaseException") for n in names)


def _is_compiled_module(name):
    if not name or "." in name:
        return False
    if name in sys.builtin_module_names:
        return True
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return False
    origin = getattr(spec, "origin", None) or ""
    return spec is not None and origin.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def _bound_names(statements):
    """Names the statements bind at their own level (functions, classes, assignments, imports)."""
    names = set()
    for node in statements:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        names.add(leaf.id)
        elif isinstance(node, (ast.If, ast.Try)):
            names |= _bound_names(node.body) | _bound_names(node.orelse)
            for handler in getattr(node, "handlers", []):
                names |= _bound_names(handler.body)
    return names


def accelerator_modules(source):
    """The compiled modules the module imports at its top level inside a `try` that falls back on ImportError,
    over names the module defines in Python itself (before the import, or in the handler), or with `*`; none that
    the module also imports unguarded. In source order."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    body = list(tree.body)
    for node in tree.body:  # one level of `if`, e.g. `if sys.implementation.name == 'cpython':`
        if isinstance(node, ast.If):
            body += node.body + node.orelse
    defined = _bound_names([n for n in body if not isinstance(n, ast.Try)])
    guarded = []
    protected = set()
    for node in body:
        if not isinstance(node, ast.Try) or not any(_catches_import_error(h) for h in node.handlers):
            continue
        fallback = defined | set().union(*(_bound_names(h.body) for h in node.handlers))
        for statement in node.body:
            # `from X import names` only: `import X` with a fallback (`except ImportError: pwd = None`) is an
            # optional dependency, not Python code standing in for compiled code.
            if isinstance(statement, ast.ImportFrom) and statement.level == 0:
                protected.add(id(statement))
                names = [a.asname or a.name for a in statement.names]
                if "*" in names or fallback & set(names):
                    guarded.append(statement.module)
        # `else:` runs only when the import succeeded (`else: from _operator import __doc__`).
        for statement in node.orelse:
            if isinstance(statement, ast.ImportFrom):
                protected.add(id(statement))
    # An import of the same module anywhere else would fail with it blocked.
    elsewhere = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and getattr(node, "level", 0) == 0 \
                and id(node) not in protected:
            for alias in node.names:
                elsewhere.add(node.module if isinstance(node, ast.ImportFrom) else alias.name)
    return [name for name in dict.fromkeys(guarded)
            if name not in elsewhere and _is_compiled_module(name)]


class _Blocked:
    """While active, importing any of `names` raises ImportError (None in sys.modules); afterwards sys.modules
    holds what it held before."""

    def __init__(self, names):
        self.names = list(names)
        self.saved = {}

    def __enter__(self):
        self.saved = {name: sys.modules.pop(name, None) for name in self.names}
        sys.modules.update(dict.fromkeys(self.names))
        return self

    def __exit__(self, *exc):
        for name, module in self.saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module
        return False


BLOCKED = []  # the accelerators the module is imported without (set in main, listed in the ready message)


_module = None
_SOURCE_LINES = []


def _namespace_for_eval():
    return {"operator": operator, MODULE_NAME: _module, "math": math, "io": io, "pathlib": pathlib, "copy": copy,
            "pickle": pickle, "__builtins__": builtins}


_compiled = {}


def _compile_step(expr):
    """A step's code object, compiled once (the search sends the same expressions many times)."""
    code = _compiled.get(expr)
    if code is None:
        code = compile(expr, "<testgen>", "eval")
        if len(_compiled) < 50000:
            _compiled[expr] = code
    return code


_KEYED_DICTS = ({}, {"a": 1}, {"a": 1, "b": 2})


def run_case(request, trace=True):
    global _arcs, _cmp_on, _cmp_pairs
    try:
        codes = [_compile_step(step["expr"]) for step in request["steps"]]
    except (SyntaxError, ValueError) as error:
        return {"id": request.get("id"), "steps": [], "state": {}, "arcs": [], "invalid": str(error)[:200]}
    _arcs = set()
    _cmp_pairs = []
    _cmp_budget[0] = 300
    _cmp_on = trace
    namespace = _namespace_for_eval()
    if any("tmp_path" in step["expr"] for step in request["steps"]):
        namespace["tmp_path"] = _fresh_tmp_path()  # only when used: a search runs tens of thousands of cases
    timeout = float(request.get("timeout", 1.0))
    steps = []
    timed_out = False
    sink = _Sink()
    old_out, old_err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = sink, sink
    alarms = _alarms[0]
    signal.setitimer(signal.ITIMER_REAL, timeout)
    if trace:
        sys.settrace(_global_tracer)
    try:
        for step, code in zip(request["steps"], codes):
            try:
                value = eval(code, namespace)
                if step.get("bind"):
                    namespace[step["bind"]] = value
                # Still traced: a generator's body runs while it is observed. Only the last step's: observing
                # consumes an iterator, which the test file does not do for earlier steps.
                if step is request["steps"][-1] or not _is_lazy(value):
                    steps.append({"value": observe(value)})
                else:
                    steps.append({"value": {"kind": "type", "type": type(value).__name__}})
            except CaseTimeout:
                sys.settrace(None)
                steps.append({"timeout": True})
                timed_out = True
                break
            except BaseException as error:  # noqa: B036 - user code may raise anything, SystemExit included
                sys.settrace(None)
                steps.append({"raised": describe_error(error)})
                # A key the module looked up and did not find: a value to put into dicts.
                if trace and type(error) is KeyError and error.args and _cmp_scalar(error.args[0]) \
                        and len(_cmp_pairs) < _CMP_PER_CASE:
                    _cmp_note(_NOTHING, error.args[0])
                    # The dicts the search passes most (the head of a dict parameter's pool) with the key added.
                    for mapping in _KEYED_DICTS:
                        _cmp_note(mapping, {**mapping, error.args[0]: 1})
                break
    except CaseTimeout:
        timed_out = True
        steps.append({"timeout": True})
    finally:
        sys.settrace(None)
        _cmp_on = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = old_out, old_err
    if not timed_out and _alarms[0] != alarms and steps:
        # The time limit fired and the module swallowed it (`except:` around a timing loop, as timeit's `main`
        # has): what the case returned is not what it returns given time. A hang, never a test.
        steps[-1] = {"timeout": True}
        timed_out = True
    state = {}
    if not timed_out:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            for name in request.get("watch", []):
                if name in namespace:
                    state[name] = observe(namespace[name])
        except CaseTimeout:
            state = {}
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    arcs = sorted([a if a is not None else 0, b] for a, b in _arcs)
    answer = {"id": request.get("id"), "steps": steps, "state": state, "arcs": arcs}
    if _cmp_pairs:
        answer["cmps"] = _cmp_pairs
    spawned = _kill_children()
    if spawned:
        answer["spawned"] = spawned
    return answer


# ---------------------------------------------------------------------------------------------------------
# Mutation analysis: the cases replayed against mutants of the module (testgen_mutants.py).


def _assertable(observation):
    """The part of an observation a generated test asserts on (floats compared like pytest.approx, roughly)."""
    if isinstance(observation, dict):
        if observation.get("kind") == "float":
            try:
                return ("float", float(f"{float(observation['repr']):.6g}"))
            except (KeyError, ValueError):
                return ("float", None)
        return tuple(sorted((k, _assertable(v)) for k, v in observation.items() if k != "line"))
    if isinstance(observation, list):
        return tuple(_assertable(v) for v in observation)
    return observation


def _replay(module, case, timeout):
    """Runs a case's steps with `module` as the module under test, untraced; returns what a test would see."""
    global _module
    saved = _module
    _module = module
    sys.modules[MODULE_NAME] = module
    try:
        result = run_case({"id": 0, "steps": case["steps"], "watch": case.get("watch", []), "timeout": timeout},
                          trace=False)
    finally:
        _module = saved
        sys.modules[MODULE_NAME] = saved
    steps = result["steps"]
    outcome = []
    for step in steps:
        if "raised" in step:
            raised = step["raised"]
            outcome.append(("raised", raised["expressible"], raised["message"][:80]))
        elif step.get("timeout"):
            outcome.append(("timeout",))
        else:
            outcome.append(("value", _assertable(step.get("value"))))
    return (tuple(outcome), _assertable(result["state"]))


def _load_mutants():
    spec = importlib.util.spec_from_file_location(
        "testgen_mutants", os.path.join(os.path.dirname(os.path.abspath(__file__)), "testgen_mutants.py"))
    mutants = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutants)
    return mutants


def mutation(request):
    """{"op": "mutation", "cases": [...], "suite": k, "limit": n, "timeout": s, "seconds": s}: each mutant is
    run against the first k cases (the suite) until one tells it apart from the original; a mutant that survives
    them is run against the other cases, and the first that kills it is named (`killer`), so that the caller
    can add it to the suite. Answers {"total": all mutants, "mutants": [{id, operator, line, description,
    killed, killer, timeout}], "complete": bool}."""
    started = time.monotonic()
    mutants_module = _load_mutants()
    cases = request["cases"]
    suite = int(request.get("suite", len(cases)))
    timeout = float(request.get("timeout", 0.5))
    seconds = float(request.get("seconds", 10))
    every = mutants_module.mutants("\n".join(_SOURCE_LINES) + "\n")
    chosen = mutants_module.sample(every, request.get("limit"), MODULE_NAME)
    original = []
    for case in cases:
        if time.monotonic() - started > seconds:
            return {"id": request.get("id"), "total": len(every), "mutants": [], "complete": False}
        original.append(_replay(_module, case, timeout))
    # The lines each case runs (and the module's import runs): a case cannot tell apart a mutant whose line it
    # does not run, unless that line ran at import. A mutant no case reaches is not even compiled.
    lines = [set(found) for found in request["lines"]] if "lines" in request else None
    imported = set(request.get("import_lines", []))
    reached = set().union(*lines) if lines else set()
    answers = []
    complete = True
    for mutant in chosen:
        if time.monotonic() - started > seconds:
            complete = False
            break
        entry = mutant.describe()
        entry.update(killed=False, killer=None, timeout=False)
        at_import = mutant.line in imported
        if lines is not None and not at_import and mutant.line not in reached:
            answers.append(entry)
            continue
        module = types.ModuleType(MODULE_NAME)
        module.__file__ = MODULE_PATH
        sys.modules[MODULE_NAME] = module
        signal.setitimer(signal.ITIMER_REAL, max(timeout, 1.0))
        try:
            with _Blocked(BLOCKED):
                exec(mutant.code(MODULE_PATH + ".mutant"), module.__dict__)
            signal.setitimer(signal.ITIMER_REAL, 0)
        except BaseException:  # noqa: B036 - a mutant that breaks the import is killed by any test
            signal.setitimer(signal.ITIMER_REAL, 0)
            entry.update(killed=True, killer=0 if cases else None)
            answers.append(entry)
            continue
        finally:
            sys.modules[MODULE_NAME] = _module
        order = list(range(suite)) + list(range(suite, len(cases)))
        for index in order:
            if index >= suite and time.monotonic() - started > seconds:
                break
            if lines is not None and not at_import and mutant.line not in lines[index]:
                continue
            seen = _replay(module, cases[index], timeout)
            if seen != original[index]:
                entry["timeout"] = any(step == ("timeout",) for step in seen[0])
                if index < suite:
                    entry["killed"] = True
                entry["killer"] = index
                break
        answers.append(entry)
    return {"id": request.get("id"), "total": len(every), "mutants": answers, "complete": complete}


def _fresh_module():
    """The module imported again (untraced), as a new pytest process would import it; None when that fails."""
    module = types.ModuleType(MODULE_NAME)
    module.__file__ = MODULE_PATH
    sys.modules[MODULE_NAME] = module  # dataclasses and pickling look the module up while it runs
    signal.setitimer(signal.ITIMER_REAL, 10.0)
    try:
        with _Blocked(BLOCKED):
            exec(compile("\n".join(_SOURCE_LINES) + "\n", MODULE_PATH, "exec"), module.__dict__)
    except BaseException:  # noqa: B036 - anything the import raises: no replay
        return None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.modules[MODULE_NAME] = _module
    return module


def replay(request):
    """{"op": "replay", "cases": [...], "passes": n, "timeout": s, "seconds": s}: the cases run in order, as the
    test file runs them, `passes` times in a row against a fresh import of the module (state left by the search,
    or by an earlier case, shows as a different outcome). Answers {"passes": [[result or null, ...], ...]}: null
    for a case not run before `seconds` ran out, or for every case when the module cannot be imported again."""
    global _module
    started = time.monotonic()
    cases = request["cases"]
    timeout = float(request.get("timeout", 0.5))
    seconds = float(request.get("seconds", 10))
    passes = int(request.get("passes", 2))
    module = _fresh_module()
    if module is None:
        return {"id": request.get("id"), "passes": [[None] * len(cases) for _ in range(passes)]}
    saved = _module
    _module = module
    sys.modules[MODULE_NAME] = module
    rows = []
    # Objects of a few sizes kept alive, a different number before each pass: objects the cases create then lie
    # at other addresses than in the pass before (in one process the allocator tends to hand out the same ones),
    # so a result that shows an address, or an id() cut by truncation, differs between passes and is dropped.
    ballast = []
    saved_argv = sys.argv
    try:
        for number in range(passes):
            ballast.append([[None] * (i % 13) for i in range(37 + 211 * number)])
            ballast.append([object() for _ in range(29 + 97 * number)])
            # The command line differs too (pytest's is not the worker's): results that read sys.argv (a
            # parser's default arguments and program name) differ between passes and are dropped.
            sys.argv = [f"replay{number}.py"] + [f"--replay-pass={number}"] * number
            row = []
            for case in cases:
                if time.monotonic() - started > seconds:
                    row.append(None)
                    continue
                answer = run_case({"id": 0, "steps": case["steps"], "watch": case.get("watch", []),
                                   "timeout": timeout}, trace=False)
                row.append({"steps": answer["steps"], "state": answer["state"], "arcs": [],
                            "spawned": answer.get("spawned")})
            rows.append(row)
    finally:
        sys.argv = saved_argv
        _module = saved
        sys.modules[MODULE_NAME] = saved
    return {"id": request.get("id"), "passes": rows}


_tmp_counter = [0]


def _fresh_tmp_path():
    _tmp_counter[0] += 1
    path = pathlib.Path(WORKDIR) / f"case{_tmp_counter[0]}"
    path.mkdir(exist_ok=True)
    return path


def send(message):
    PROTOCOL.write(json.dumps(message) + "\n")
    PROTOCOL.flush()


def main():
    global _module, _SOURCE_LINES
    os.makedirs(WORKDIR, exist_ok=True)
    module_dir = os.path.dirname(MODULE_PATH)
    sys.path.insert(0, module_dir)
    sys.stdout = _Sink()  # prints at import time must not reach the protocol channel
    enter_sandbox()
    with open(MODULE_PATH, encoding="utf-8") as source:
        _SOURCE_LINES = source.read().splitlines()
    signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, 10.0)
    BLOCKED[:] = accelerator_modules("\n".join(_SOURCE_LINES) + "\n")
    try:
        spec = importlib.util.spec_from_file_location(MODULE_NAME, MODULE_PATH)
        code = _instrumented_code("\n".join(_SOURCE_LINES) + "\n")
        builtins._testgen_cmp_ = _testgen_cmp_
        builtins._testgen_len_cmp_ = _testgen_len_cmp_
        builtins._testgen_affix_ = _testgen_affix_
        builtins._testgen_isinstance_ = _testgen_isinstance_
        builtins._testgen_rematch_ = _testgen_rematch_
        # With its accelerators blocked first; a module that cannot be imported so is imported as it is.
        for attempt in ([BLOCKED] if BLOCKED else []) + [[]]:
            _module = importlib.util.module_from_spec(spec)
            sys.modules[MODULE_NAME] = _module
            _arcs.clear()
            sys.settrace(_global_tracer)
            try:
                with _Blocked(attempt):
                    if code is not None:
                        exec(code, _module.__dict__)
                    else:
                        spec.loader.exec_module(_module)
            except Exception:
                sys.settrace(None)
                if not attempt:
                    raise
                BLOCKED[:] = []
                continue
            break
        sys.settrace(None)
        signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as error:  # noqa: B036 - report any import failure, SystemExit included
        sys.settrace(None)
        signal.setitimer(signal.ITIMER_REAL, 0)
        kind = "timeout" if isinstance(error, CaseTimeout) else type(error).__name__
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        send({"ready": False, "error": kind, "message": detail if kind != "timeout" else
              "importing the module took longer than 10 s"})
        return
    import_arcs = sorted([a if a is not None else 0, b] for a, b in _arcs)
    try:
        regex_strings = module_regex_strings(_module, "\n".join(_SOURCE_LINES) + "\n")
    except Exception:
        regex_strings = []
    try:
        argv_vectors, argv_targets = module_argv_vectors("\n".join(_SOURCE_LINES) + "\n")
    except Exception:
        argv_vectors, argv_targets = [], []
    send({"ready": True, "python": sys.version.split()[0], "arcs": import_arcs, "strings": regex_strings,
          "argvs": argv_vectors, "argv_targets": argv_targets, "blocked": BLOCKED})
    for line in REQUESTS:
        line = line.strip()
        if not line:
            continue
        try:
            request = json.loads(line)
        except ValueError as error:
            send({"error": f"bad request: {error}"})
            continue
        if request.get("op") == "quit":
            break
        if request.get("op") == "mutation":
            send(mutation(request))
            continue
        if request.get("op") == "replay":
            send(replay(request))
            continue
        send(run_case(request))


if __name__ == "__main__":
    _take_protocol_channel()
    main()
