"""String helpers a web app might use: slugs, truncation, word statistics, simple ciphers."""
import re


def slugify(title: str, max_length: int = 50) -> str:
    """Lowercase, dash-separated ASCII slug.

    >>> slugify("Hello, World!")
    'hello-world'
    """
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    if len(slug) > max_length:
        slug = slug[:max_length].rstrip("-")
    return slug or "untitled"


def truncate(text: str, width: int, ellipsis: str = "...") -> str:
    if width < 0:
        raise ValueError("width must not be negative")
    if len(text) <= width:
        return text
    # Planted bug: a width smaller than the ellipsis gives a result longer than width.
    return text[: width - len(ellipsis)] + ellipsis


def word_count(text: str) -> dict[str, int]:
    counts = {}
    for word in re.findall(r"[a-zA-Z']+", text):
        key = word.lower()
        counts[key] = counts.get(key, 0) + 1
    return counts


def most_common_word(text: str) -> str:
    counts = word_count(text)
    # Planted bug: text without words makes max() fail on an empty sequence.
    return max(counts, key=lambda w: (counts[w], w))


def is_palindrome(text: str) -> bool:
    letters = [c.lower() for c in text if c.isalnum()]
    return letters == letters[::-1]


def caesar(text: str, shift: int) -> str:
    out = []
    for c in text:
        if "a" <= c <= "z":
            out.append(chr((ord(c) - ord("a") + shift) % 26 + ord("a")))
        elif "A" <= c <= "Z":
            out.append(chr((ord(c) - ord("A") + shift) % 26 + ord("A")))
        else:
            out.append(c)
    return "".join(out)


def initials(name: str) -> str:
    parts = name.split()
    if len(parts) == 1:
        return parts[0][0].upper()
    return "".join(p[0].upper() for p in parts if p)


def wrap(text: str, width: int = 20) -> list[str]:
    if width < 1:
        raise ValueError("width must be positive")
    lines, current = [], ""
    for word in text.split():
        if not current:
            current = word
        elif len(current) + 1 + len(word) <= width:
            current += " " + word
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    return lines
