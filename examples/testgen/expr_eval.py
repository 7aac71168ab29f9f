"""A tiny arithmetic expression evaluator: tokenizer and recursive-descent parser."""


class ParseError(Exception):
    pass


def tokenize(text: str) -> list[str]:
    tokens, i = [], 0
    while i < len(text):
        c = text[i]
        if c.isspace():
            i += 1
        elif c.isdigit() or c == ".":
            start = i
            while i < len(text) and (text[i].isdigit() or text[i] == "."):
                i += 1
            tokens.append(text[start:i])
        elif c in "+-*/()%^":
            tokens.append(c)
            i += 1
        else:
            raise ParseError(f"unexpected character {c!r}")
    return tokens


class Parser:
    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.pos = 0

    def peek(self):
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self):
        token = self.peek()
        if token is None:
            raise ParseError("unexpected end of input")
        self.pos += 1
        return token

    def expression(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            if self.take() == "+":
                value += self.term()
            else:
                value -= self.term()
        return value

    def term(self) -> float:
        value = self.factor()
        while self.peek() in ("*", "/", "%"):
            op = self.take()
            right = self.factor()
            if op == "*":
                value *= right
            elif op == "/":
                # Planted bug: no check for a zero divisor.
                value /= right
            else:
                value %= right
        return value

    def factor(self) -> float:
        base = self.unary()
        if self.peek() == "^":
            self.take()
            return base ** self.factor()
        return base

    def unary(self) -> float:
        token = self.take()
        if token == "-":
            return -self.unary()
        if token == "(":
            value = self.expression()
            if self.take() != ")":
                raise ParseError("expected ')'")
            return value
        try:
            return float(token)
        except ValueError:
            raise ParseError(f"bad number {token!r}") from None


def evaluate(text: str) -> float:
    """Evaluate an arithmetic expression.

    >>> evaluate("2 * (3 + 4)")
    14.0
    """
    parser = Parser(tokenize(text))
    value = parser.expression()
    if parser.peek() is not None:
        raise ParseError(f"trailing input at {parser.peek()!r}")
    return value
