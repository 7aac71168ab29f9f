def is_shouting(text):
    return text == text.lower() and any(c.isalpha() for c in text)
