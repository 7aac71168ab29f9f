"""A double-entry ledger: accounts, transactions, balances and a few reports.

A 200-line module of ordinary application code, used by `moecoder complete` demos and by
bench/completion_latency.py, which completes a line in the middle of it.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal, ROUND_HALF_EVEN
from typing import Iterable, Iterator

CENT = Decimal("0.01")
KINDS = ("asset", "liability", "equity", "income", "expense")


class LedgerError(Exception):
    """Raised when a transaction or an account breaks the ledger's rules."""


def money(value) -> Decimal:
    """Round a number or numeric string to whole cents, half to even."""
    return Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class Account:
    """A named account of one kind; debits increase assets and expenses."""

    code: str
    name: str
    kind: str

    def __post_init__(self):
        if self.kind not in KINDS:
            raise LedgerError(f"unknown account kind {self.kind!r}")

    @property
    def debit_normal(self) -> bool:
        return self.kind in ("asset", "expense")


@dataclass(frozen=True)
class Posting:
    """One line of a transaction: a positive amount is a debit, a negative one a credit."""

    account: str
    amount: Decimal


@dataclass
class Transaction:
    """Postings that sum to zero, on a date, with a description."""

    date: dt.date
    description: str
    postings: list[Posting] = field(default_factory=list)

    def post(self, account: str, amount) -> "Transaction":
        self.postings.append(Posting(account, money(amount)))
        return self

    def total(self) -> Decimal:
        return sum((p.amount for p in self.postings), Decimal(0))

    def check(self) -> None:
        if len(self.postings) < 2:
            raise LedgerError(f"{self.description}: a transaction needs two postings")
        if self.total() != 0:
            raise LedgerError(f"{self.description}: postings sum to {self.total()}, not 0")


class Ledger:
    """Accounts and the transactions posted to them, in date order."""

    def __init__(self, accounts: Iterable[Account] = ()):
        self.accounts: dict[str, Account] = {}
        self.transactions: list[Transaction] = []
        for account in accounts:
            self.open(account)

    def open(self, account: Account) -> None:
        if account.code in self.accounts:
            raise LedgerError(f"account {account.code} is already open")
        self.accounts[account.code] = account

    def record(self, transaction: Transaction) -> None:
        transaction.check()
        for posting in transaction.postings:
            if posting.account not in self.accounts:
                raise LedgerError(f"no account {posting.account}")
        self.transactions.append(transaction)
        self.transactions.sort(key=lambda t: t.date)

    def postings(self, code: str, until: dt.date | None = None) -> Iterator[tuple[dt.date, Posting]]:
        for transaction in self.transactions:
            if until is not None and transaction.date > until:
                break
            for posting in transaction.postings:
                if posting.account == code:
                    yield transaction.date, posting

    def balance(self, code: str, until: dt.date | None = None) -> Decimal:
        """The account's balance, positive on its normal side."""
        account = self.accounts[code]
        total = sum((p.amount for _, p in self.postings(code, until)), Decimal(0))
        return total if account.debit_normal else -total

    def trial_balance(self, until: dt.date | None = None) -> dict[str, Decimal]:
        return {code: self.balance(code, until) for code in sorted(self.accounts)}

    def by_kind(self, until: dt.date | None = None) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for code, account in self.accounts.items():
            totals[account.kind] += self.balance(code, until)
        return dict(totals)

    def net_income(self, start: dt.date, end: dt.date) -> Decimal:
        """Income minus expenses for transactions from `start` to `end`, both included."""
        income = expenses = Decimal(0)
        for transaction in self.transactions:
            if not start <= transaction.date <= end:
                continue
            for posting in transaction.postings:
                kind = self.accounts[posting.account].kind
                if kind == "income":
                    income -= posting.amount
                elif kind == "expense":
                    expenses += posting.amount
        return income - expenses

    def is_balanced(self, until: dt.date | None = None) -> bool:
        kinds = self.by_kind(until)
        assets = kinds.get("asset", Decimal(0))
        claims = kinds.get("liability", Decimal(0)) + kinds.get("equity", Decimal(0))
        earnings = kinds.get("income", Decimal(0)) - kinds.get("expense", Decimal(0))
        return assets == claims + earnings


def monthly_totals(ledger: Ledger, code: str) -> dict[str, Decimal]:
    """The account's net postings per calendar month, keyed "YYYY-MM"."""
    months: dict[str, Decimal] = defaultdict(Decimal)
    for date, posting in ledger.postings(code):
        months[f"{date.year:04d}-{date.month:02d}"] += posting.amount
    return dict(sorted(months.items()))


def largest_expenses(ledger: Ledger, count: int = 5) -> list[tuple[str, Decimal]]:
    """The `count` expense accounts with the largest balances, largest first."""
    expenses = [
        (code, ledger.balance(code))
        for code, account in ledger.accounts.items()
        if account.kind == "expense"
    ]
    expenses.sort(key=lambda pair: pair[1], reverse=True)
    return expenses[:count]


def read_csv(path: str, ledger: Ledger) -> int:
    """Record transactions from a CSV of date,description,account,amount rows; returns how many."""
    grouped: dict[tuple[str, str], Transaction] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            key = (row["date"], row["description"])
            if key not in grouped:
                date = dt.date.fromisoformat(row["date"])
                grouped[key] = Transaction(date, row["description"])
            grouped[key].post(row["account"], row["amount"])
    for transaction in grouped.values():
        ledger.record(transaction)
    return len(grouped)


def write_trial_balance(ledger: Ledger, path: str) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["code", "name", "kind", "balance"])
        for code, balance in ledger.trial_balance().items():
            account = ledger.accounts[code]
            writer.writerow([code, account.name, account.kind, f"{balance:.2f}"])


def average_posting(ledger: Ledger, code: str) -> Decimal:
    """The mean absolute amount posted to an account; zero when nothing was posted."""
    amounts = [abs(p.amount) for _, p in ledger.postings(code)]
    if not amounts:
        return Decimal(0)
    total = sum(amounts, Decimal(0))
    return money(total / len(amounts))


def sample_ledger() -> Ledger:
    ledger = Ledger([
        Account("1000", "Cash", "asset"),
        Account("3000", "Owner's equity", "equity"),
        Account("4000", "Sales", "income"),
        Account("5000", "Rent", "expense"),
    ])
    ledger.record(Transaction(dt.date(2024, 1, 1), "Opening").post("1000", 1000).post("3000", -1000))
    ledger.record(Transaction(dt.date(2024, 1, 5), "Sale").post("1000", 250).post("4000", -250))
    ledger.record(Transaction(dt.date(2024, 1, 31), "Rent").post("5000", 400).post("1000", -400))
    return ledger


if __name__ == "__main__":
    demo = sample_ledger()
    for code, amount in demo.trial_balance().items():
        print(code, demo.accounts[code].name, amount)
    print("balanced:", demo.is_balanced())
