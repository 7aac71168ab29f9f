"""Dense matrices as lists of rows: arithmetic, transpose, determinant by cofactor expansion."""


class Matrix:
    def __init__(self, rows: list[list[float]]):
        if any(len(r) != len(rows[0]) for r in rows):
            raise ValueError("rows must have equal length")
        self.rows = [list(r) for r in rows]

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.rows), len(self.rows[0]) if self.rows else 0

    @staticmethod
    def identity(n: int) -> "Matrix":
        if n < 1:
            raise ValueError("size must be positive")
        return Matrix([[1 if i == j else 0 for j in range(n)] for i in range(n)])

    def transpose(self) -> "Matrix":
        return Matrix([list(col) for col in zip(*self.rows)])

    def add(self, other: "Matrix") -> "Matrix":
        if self.shape != other.shape:
            raise ValueError("shapes differ")
        return Matrix([[a + b for a, b in zip(r, s)] for r, s in zip(self.rows, other.rows)])

    def scale(self, factor: float) -> "Matrix":
        return Matrix([[factor * v for v in r] for r in self.rows])

    def multiply(self, other: "Matrix") -> "Matrix":
        if self.shape[1] != other.shape[0]:
            raise ValueError("inner dimensions differ")
        cols = other.transpose().rows
        return Matrix([[sum(a * b for a, b in zip(r, c)) for c in cols] for r in self.rows])

    def determinant(self) -> float:
        n, m = self.shape
        if n != m:
            raise ValueError("determinant needs a square matrix")
        # Planted bug: the empty matrix reaches rows[0][0].
        if n <= 1:
            return self.rows[0][0]
        if n == 2:
            (a, b), (c, d) = self.rows
            return a * d - b * c
        total = 0
        for j in range(n):
            minor = Matrix([r[:j] + r[j + 1:] for r in self.rows[1:]])
            total += (-1) ** j * self.rows[0][j] * minor.determinant()
        return total

    def trace(self) -> float:
        return sum(self.rows[i][i] for i in range(min(self.shape)))

    def __eq__(self, other) -> bool:
        return isinstance(other, Matrix) and self.rows == other.rows

    def __repr__(self) -> str:
        return f"Matrix({self.rows!r})"
