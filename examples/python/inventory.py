"""A small inventory module: the kind of code moecoder completes, tests and repairs."""

from dataclasses import dataclass, field


class OutOfStock(Exception):
    """Raised when more items are taken than the inventory holds."""


@dataclass
class Item:
    """One stock-keeping unit."""

    sku: str
    price: float
    quantity: int = 0


@dataclass
class Inventory:
    """Items by SKU, with a running value."""

    items: dict = field(default_factory=dict)

    def add(self, sku: str, price: float, quantity: int = 1) -> Item:
        """Add `quantity` units of `sku` at `price`; returns the stored item."""
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        item = self.items.get(sku)
        if item is None:
            item = self.items[sku] = Item(sku, price, 0)
        item.quantity += quantity
        item.price = price
        return item

    def take(self, sku: str, quantity: int = 1) -> int:
        """Remove units; returns how many are left."""
        item = self.items.get(sku)
        if item is None or item.quantity < quantity:
            raise OutOfStock(sku)
        item.quantity -= quantity
        return item.quantity

    def value(self) -> float:
        """Total value of everything in stock."""
        return sum(i.price * i.quantity for i in self.items.values())


def parse_line(line: str) -> tuple:
    """Parse 'SKU,PRICE,QTY' into a tuple; blank quantity means 1."""
    sku, price, *rest = [part.strip() for part in line.split(",")]
    quantity = int(rest[0]) if rest and rest[0] else 1
    return sku, float(price), quantity
