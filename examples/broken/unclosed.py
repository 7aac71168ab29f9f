def total(prices, tax=0.2):
    subtotal = sum(prices
    return subtotal * (1 + tax)
