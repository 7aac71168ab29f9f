"""A shopping cart with quantities, discount codes and tax."""

DISCOUNTS = {"SAVE10": 10, "HALF": 50, "FREESHIP": 0}
TAX_RATES = {"US": 0.07, "DE": 0.19, "UK": 0.2}


class Cart:
    def __init__(self, country: str = "US"):
        if country not in TAX_RATES:
            raise ValueError(f"unsupported country {country!r}")
        self.country = country
        self.lines = {}
        self.discount = 0
        self.free_shipping = False

    def add(self, product: str, price: float, quantity: int = 1) -> int:
        if price < 0:
            raise ValueError("price must not be negative")
        if quantity < 1:
            raise ValueError("quantity must be at least 1")
        old_price, old_quantity = self.lines.get(product, (price, 0))
        if old_price != price:
            raise ValueError("price changed for an existing line")
        self.lines[product] = (price, old_quantity + quantity)
        return old_quantity + quantity

    def remove(self, product: str) -> bool:
        return self.lines.pop(product, None) is not None

    def apply_code(self, code: str) -> bool:
        code = code.strip().upper()
        if code not in DISCOUNTS:
            return False
        if code == "FREESHIP":
            self.free_shipping = True
        else:
            self.discount = max(self.discount, DISCOUNTS[code])
        return True

    def subtotal(self) -> float:
        return round(sum(p * q for p, q in self.lines.values()), 2)

    def shipping(self) -> float:
        if self.free_shipping or self.subtotal() >= 50:
            return 0.0
        return 4.99

    def total(self) -> float:
        discounted = self.subtotal() * (100 - self.discount) / 100
        return round(discounted * (1 + TAX_RATES[self.country]) + self.shipping(), 2)

    def average_price(self) -> float:
        # Planted bug: an empty cart divides by zero.
        count = sum(q for _, q in self.lines.values())
        return round(self.subtotal() / count, 2)
