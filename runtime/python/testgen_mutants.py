"""Mutation operators of `moecoder testgen --mutation` and of bench/testgen_mutation.py.

A mutant is the module with one small change, made on its syntax tree (`ast`), so it keeps the original's line
numbers and can be compiled directly or written back with `ast.unparse`. The operators:

    AOR  arithmetic operator replacement   a + b -> a - b, * <-> /, // -> /, % -> *, ** -> *, also in `x += 1`
    ROR  relational operator replacement   < -> <=, <= -> <, > -> >=, >= -> >, == <-> !=, in <-> not in,
                                           is <-> is not
    COR  conditional operator replacement  and <-> or, `not x` -> x
    UOI  unary operator deletion           -x -> x
    CRP  constant replacement              n -> n + 1, 0 -> 1, 1 -> 0, 1.5 -> 2.5, 's' -> '' ('' -> 'XX'),
                                           True <-> False
    SDL  statement deletion                an expression statement, assignment or augmented assignment ->
                                           `pass`
    RVR  return value replacement          return x -> return None (return None -> return 0)
    BCR  break/continue replacement        break <-> continue

Not mutated: docstrings, the body of `if __name__ == '__main__':`, `__all__`, and type annotations. The list is
deterministic: mutant k of a source is always the same change.

    python3 testgen_mutants.py MODULE.py        -> one JSON line per mutant (id, operator, line, description)
"""

import ast
import copy
import json
import sys

_AOR = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
        ast.Mod: ast.Mult, ast.Pow: ast.Mult, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
        ast.LShift: ast.RShift, ast.RShift: ast.LShift, ast.BitXor: ast.BitOr}
_ROR = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
        ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}
_SYMBOL = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%",
           ast.Pow: "**", ast.BitAnd: "&", ast.BitOr: "|", ast.LShift: "<<", ast.RShift: ">>", ast.BitXor: "^",
           ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
           ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not", ast.And: "and", ast.Or: "or"}


def _is_main_guard(node):
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__")


def _is_dunder_all(node):
    return isinstance(node, (ast.Assign, ast.AugAssign)) and any(
        isinstance(t, ast.Name) and t.id == "__all__" for t in getattr(node, "targets", [getattr(node, "target", None)]))


def _is_docstring(node, parent):
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            and parent is not None and getattr(parent, "body", [None])[0] is node)


def _constant_replacement(value):
    if isinstance(value, bool):
        return not value, f"{value} -> {not value}"
    if isinstance(value, int):
        new = 1 if value == 0 else (0 if value == 1 else value + 1)
        return new, f"{value} -> {new}"
    if isinstance(value, float):
        return value + 1.0, f"{value} -> {value + 1.0}"
    if isinstance(value, str):
        new = "XX" if value == "" else ""
        return new, f"{value[:20]!r} -> {new!r}"
    return None


class _Points(ast.NodeVisitor):
    """Walks the tree in a fixed order and lists every place an operator applies."""

    def __init__(self):
        self.points = []  # (node path index, operator, line, description, apply(node) -> None)
        self._parents = [None]
        self._skip_annotations = 0

    def _add(self, node, operator, description, apply):
        self.points.append((self._index[id(node)], operator, getattr(node, "lineno", 0), description, apply))

    def run(self, tree):
        self._index = {id(n): i for i, n in enumerate(ast.walk(tree))}
        self.visit(tree)
        return self.points

    def generic_visit(self, node):
        self._parents.append(node)
        for field, value in ast.iter_fields(node):
            if field in ("annotation", "returns"):
                continue
            if isinstance(value, list):
                for item in value:
                    if isinstance(item, ast.AST):
                        self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)
        self._parents.pop()

    def visit(self, node):
        parent = self._parents[-1]
        if _is_main_guard(node) or _is_docstring(node, parent) or _is_dunder_all(node):
            return
        if isinstance(node, ast.JoinedStr):
            return  # f-string parts are constants of a special kind; leave them alone
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method:
            method(node)
        self.generic_visit(node)

    def visit_BinOp(self, node):
        new = _AOR.get(type(node.op))
        if new:
            self._add(node, "AOR", f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[new]}",
                      lambda n, new=new: setattr(n, "op", new()))

    def visit_AugAssign(self, node):
        new = _AOR.get(type(node.op))
        if new:
            self._add(node, "AOR", f"{_SYMBOL[type(node.op)]}= -> {_SYMBOL[new]}=",
                      lambda n, new=new: setattr(n, "op", new()))
        self._statement(node)

    def visit_Compare(self, node):
        for i, op in enumerate(node.ops):
            new = _ROR.get(type(op))
            if new:
                def apply(n, i=i, new=new):
                    n.ops[i] = new()
                self._add(node, "ROR", f"{_SYMBOL[type(op)]} -> {_SYMBOL[new]}", apply)

    def visit_BoolOp(self, node):
        new = ast.Or if isinstance(node.op, ast.And) else ast.And
        self._add(node, "COR", f"{_SYMBOL[type(node.op)]} -> {_SYMBOL[new]}", lambda n, new=new: setattr(n, "op", new()))

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.Not):
            self._add(node, "COR", "not x -> x", lambda n: n.operand)
        elif isinstance(node.op, ast.USub) and not isinstance(node.operand, ast.Constant):
            self._add(node, "UOI", "-x -> x", lambda n: n.operand)

    def visit_Constant(self, node):
        replaced = _constant_replacement(node.value)
        if replaced is not None and node.value is not None:
            value, description = replaced
            self._add(node, "CRP", description, lambda n, value=value: setattr(n, "value", value))

    def visit_Return(self, node):
        if node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None):
            self._add(node, "RVR", "return None -> return 0", lambda n: setattr(n, "value", ast.Constant(0)))
        else:
            self._add(node, "RVR", "return x -> return None", lambda n: setattr(n, "value", ast.Constant(None)))

    def visit_Break(self, node):
        self._add(node, "BCR", "break -> continue", None)

    def visit_Continue(self, node):
        self._add(node, "BCR", "continue -> break", None)

    def visit_Expr(self, node):
        self._statement(node)

    def visit_Assign(self, node):
        self._statement(node)

    def _statement(self, node):
        parent = self._parents[-1]
        # Not at module or class level: deleting a definition only breaks the import.
        if isinstance(parent, (ast.Module, ast.ClassDef)):
            return
        self._add(node, "SDL", "statement deleted", None)


class _Replace(ast.NodeTransformer):
    def __init__(self, index, operator, apply):
        self.target, self.operator, self.apply = index, operator, apply

    def run(self, tree):
        self._index = {id(n): i for i, n in enumerate(ast.walk(tree))}
        return self.visit(tree)

    def visit(self, node):
        if self._index.get(id(node)) == self.target:
            if self.operator == "SDL":
                return ast.copy_location(ast.Pass(), node)
            if self.operator == "BCR":
                return ast.copy_location(ast.Continue() if isinstance(node, ast.Break) else ast.Break(), node)
            replacement = self.apply(node)
            return node if replacement is None else replacement
        return self.generic_visit(node)


class Mutant:
    """One change; its tree is built when first asked for (`code`, `source`)."""

    def __init__(self, ident, operator, line, description, tree):
        self.id, self.operator, self.line, self.description = ident, operator, line, description
        self._make = tree

    @property
    def tree(self):
        if callable(self._make):
            self._make = self._make()
        return self._make

    def describe(self):
        return {"id": self.id, "operator": self.operator, "line": self.line, "description": self.description}

    def code(self, filename):
        return compile(self.tree, filename, "exec")

    def source(self):
        return ast.unparse(self.tree)


def mutants(source):
    """Every mutant of `source`, in a fixed order."""
    tree = ast.parse(source)
    points = _Points().run(tree)
    result = []
    for ident, (index, operator, line, description, apply) in enumerate(points):
        def make(index=index, operator=operator, apply=apply):
            new = _Replace(index, operator, apply).run(copy.deepcopy(tree))
            return ast.fix_missing_locations(new)
        result.append(Mutant(ident, operator, line, description, make))
    return result


def sample(items, limit, key):
    """A deterministic, evenly spread subset of at most `limit` items (every k-th, offset by a hash of `key`)."""
    if limit is None or len(items) <= limit:
        return list(items)
    step = len(items) / limit
    offset = (sum(map(ord, key)) % 97) / 97 * step
    return [items[int(offset + i * step)] for i in range(limit)]


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as handle:
        text = handle.read()
    for mutant in mutants(text):
        print(json.dumps(mutant.describe()))
