"""A small bank account model: deposits, withdrawals, transfers and a transaction history."""


class InsufficientFunds(Exception):
    """Raised when a withdrawal would overdraw the account."""


class Account:
    """An account with a balance, an optional overdraft limit and a history of transactions.

    >>> acct = Account("alice", 100)
    >>> acct.deposit(50)
    150
    """

    def __init__(self, owner: str, balance: float = 0, overdraft_limit: float = 0):
        if not owner:
            raise ValueError("owner must not be empty")
        if balance < 0:
            raise ValueError("opening balance cannot be negative")
        self.owner = owner
        self.balance = balance
        self.overdraft_limit = overdraft_limit
        self.history = []
        self.frozen = False

    def deposit(self, amount: float) -> float:
        if self.frozen:
            raise PermissionError("account is frozen")
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.balance += amount
        self.history.append(("deposit", amount))
        return self.balance

    def withdraw(self, amount: float) -> float:
        if self.frozen:
            raise PermissionError("account is frozen")
        if amount <= 0:
            raise ValueError("withdrawal must be positive")
        if amount > self.balance + self.overdraft_limit:
            raise InsufficientFunds(f"cannot withdraw {amount}")
        self.balance -= amount
        self.history.append(("withdraw", amount))
        return self.balance

    def transfer_to(self, other: "Account", amount: float) -> None:
        if other is self:
            raise ValueError("cannot transfer to the same account")
        self.withdraw(amount)
        other.deposit(amount)

    def freeze(self) -> None:
        self.frozen = True

    def unfreeze(self) -> None:
        self.frozen = False

    def average_transaction(self) -> float:
        # Planted bug: an account without transactions divides by zero.
        total = sum(amount for _, amount in self.history)
        return total / len(self.history)

    def statement(self) -> str:
        lines = [f"Statement for {self.owner}"]
        for kind, amount in self.history:
            sign = "+" if kind == "deposit" else "-"
            lines.append(f"{sign}{amount:.2f}")
        lines.append(f"Balance: {self.balance:.2f}")
        return "\n".join(lines)

    def is_overdrawn(self) -> bool:
        return self.balance < 0


def interest(balance: float, rate: float, years: int) -> float:
    """Compound interest after whole years."""
    if years < 0:
        raise ValueError("years must not be negative")
    if rate < 0 or rate > 1:
        raise ValueError("rate must be between 0 and 1")
    return round(balance * (1 + rate) ** years, 2)
