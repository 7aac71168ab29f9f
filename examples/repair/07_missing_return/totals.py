def order_total(prices, discount):
    subtotal = sum(prices)
    total = subtotal - discount
