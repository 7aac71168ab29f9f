def cheapest(prices):
    return max(prices)
