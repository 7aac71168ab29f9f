"""Warehouse inventory with stock levels, reservations and reorder hints."""
from dataclasses import dataclass, field


@dataclass
class Item:
    sku: str
    name: str
    quantity: int = 0
    reorder_level: int = 5
    tags: list = field(default_factory=list)

    def needs_reorder(self) -> bool:
        return self.quantity <= self.reorder_level

    def label(self) -> str:
        tag_text = ", ".join(self.tags) if self.tags else "untagged"
        return f"{self.sku} {self.name} ({tag_text})"


class Inventory:
    """Items by SKU with reservations.

    >>> inv = Inventory()
    >>> inv.add("A1", "bolt", 10)
    10
    """

    def __init__(self, capacity: int = 1000):
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.capacity = capacity
        self.items = {}
        self.reserved = {}

    def add(self, sku: str, name: str, quantity: int) -> int:
        if quantity <= 0:
            raise ValueError("quantity must be positive")
        if self.total() + quantity > self.capacity:
            raise OverflowError("inventory is full")
        item = self.items.get(sku)
        if item is None:
            item = Item(sku, name)
            self.items[sku] = item
        item.quantity += quantity
        return item.quantity

    def remove(self, sku: str, quantity: int) -> int:
        # Planted bug: an unknown SKU raises KeyError instead of a clear error.
        item = self.items[sku]
        if quantity > item.quantity - self.reserved.get(sku, 0):
            raise ValueError("not enough unreserved stock")
        item.quantity -= quantity
        return item.quantity

    def reserve(self, sku: str, quantity: int) -> bool:
        item = self.items.get(sku)
        if item is None:
            return False
        available = item.quantity - self.reserved.get(sku, 0)
        if quantity > available:
            return False
        self.reserved[sku] = self.reserved.get(sku, 0) + quantity
        return True

    def release(self, sku: str) -> int:
        return self.reserved.pop(sku, 0)

    def total(self) -> int:
        return sum(item.quantity for item in self.items.values())

    def low_stock(self) -> list[str]:
        return sorted(sku for sku, item in self.items.items() if item.needs_reorder())

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, sku) -> bool:
        return sku in self.items
