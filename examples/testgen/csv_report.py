"""Reads simple CSV data from a text stream and writes a summary report to another stream."""
from typing import TextIO


def parse_row(line: str, delimiter: str = ",") -> list[str]:
    """Split one CSV line, honouring double quotes.

    >>> parse_row('a,"b,c",d')
    ['a', 'b,c', 'd']
    """
    fields, current, quoted = [], "", False
    for char in line.rstrip("\n"):
        if char == '"':
            quoted = not quoted
        elif char == delimiter and not quoted:
            fields.append(current.strip())
            current = ""
        else:
            current += char
    if quoted:
        raise ValueError("unterminated quote")
    fields.append(current.strip())
    return fields


def read_table(stream: TextIO, delimiter: str = ",") -> list[dict[str, str]]:
    lines = [line for line in stream if line.strip() and not line.startswith("#")]
    if not lines:
        return []
    header = parse_row(lines[0], delimiter)
    rows = []
    for number, line in enumerate(lines[1:], start=2):
        values = parse_row(line, delimiter)
        if len(values) != len(header):
            raise ValueError(f"line {number}: expected {len(header)} fields, got {len(values)}")
        rows.append(dict(zip(header, values)))
    return rows


def column_total(rows: list[dict[str, str]], column: str) -> float:
    total = 0.0
    for row in rows:
        value = row[column]
        if value == "":
            continue
        total += float(value)
    return total


def first_column(line: str) -> str:
    # Planted bug: an empty line has no first column.
    return line.split(",")[0] if line else line.split()[0]


def write_report(rows: list[dict[str, str]], column: str, out: TextIO) -> int:
    if not rows:
        out.write("no data\n")
        return 0
    out.write(f"rows: {len(rows)}\n")
    numbers = [float(r[column]) for r in rows if r.get(column, "") != ""]
    if numbers:
        out.write(f"total {column}: {sum(numbers):.2f}\n")
        out.write(f"max {column}: {max(numbers):.2f}\n")
    else:
        out.write(f"no values in {column}\n")
    return len(rows)
