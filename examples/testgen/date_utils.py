"""Calendar arithmetic without the datetime module: leap years, month lengths, ISO dates."""

DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def is_leap_year(year: int) -> bool:
    """Gregorian leap years.

    >>> is_leap_year(2000)
    True
    """
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_month(year: int, month: int) -> int:
    # Planted bug: month 0 silently reads December (DAYS[-1]); month 13 raises IndexError.
    if month == 2 and is_leap_year(year):
        return 29
    return DAYS[month - 1]


def parse_date(text: str) -> tuple[int, int, int]:
    parts = text.strip().split("-")
    if len(parts) != 3:
        raise ValueError(f"expected YYYY-MM-DD, got {text!r}")
    year, month, day = (int(p) for p in parts)
    if not 1 <= month <= 12:
        raise ValueError("month out of range")
    if not 1 <= day <= days_in_month(year, month):
        raise ValueError("day out of range")
    return year, month, day


def day_of_year(year: int, month: int, day: int) -> int:
    total = day
    for m in range(1, month):
        total += days_in_month(year, m)
    return total


def add_days(year: int, month: int, day: int, days: int) -> tuple[int, int, int]:
    if days < 0:
        raise ValueError("only forward arithmetic is supported")
    while days > 0:
        remaining = days_in_month(year, month) - day
        if days <= remaining:
            return year, month, day + days
        days -= remaining + 1
        day = 1
        if month == 12:
            month, year = 1, year + 1
        else:
            month += 1
    return year, month, day


def format_date(year: int, month: int, day: int, style: str = "iso") -> str:
    if style == "iso":
        return f"{year:04d}-{month:02d}-{day:02d}"
    if style == "us":
        return f"{month:02d}/{day:02d}/{year:04d}"
    if style == "eu":
        return f"{day:02d}.{month:02d}.{year:04d}"
    raise ValueError(f"unknown style {style!r}")
