"""The repair benchmark's programs: small classic algorithms with pytest tests, each with one injected one-line
bug (off-by-one, wrong operator, wrong variable, missing base case, swapped arguments, wrong slice bound, missing
return, negated condition, ...).

Each entry is (name, module file, correct source, tests, (text in the correct source, what the bug puts there)).
The bug's text must occur exactly once. `materialize(folder)` writes one folder per program (the buggy module,
its tests, and `intended.py.txt`, the correct source), and `check` verifies that the tests fail on the bug and
pass on the correct source.

The split is fixed by a hash of the name: `dev` programs are for developing the repair, `heldout` ones are run
only to report (never looked at while changing the repair).
"""

import hashlib

PROGRAMS = []


def program(name, module, source, tests, bug):
    PROGRAMS.append((name, module, source.lstrip("\n"), tests.lstrip("\n"), bug))


def split(name):
    return "heldout" if int(hashlib.sha256(name.encode()).hexdigest(), 16) % 5 in (1, 3) else "dev"


program("binary_search", "search.py", '''
def binary_search(items, target):
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid + 1
        else:
            hi = mid - 1
    return -1
''', '''
from search import binary_search

def test_middle():
    assert binary_search([1, 3, 5, 7, 9], 5) == 2

def test_last():
    assert binary_search([1, 3, 5, 7, 9], 9) == 4

def test_first():
    assert binary_search([1, 3, 5, 7, 9], 1) == 0

def test_missing():
    assert binary_search([1, 3, 5, 7, 9], 4) == -1

def test_empty():
    assert binary_search([], 3) == -1
''', ("while lo <= hi:", "while lo < hi:"))

program("gcd_lcm", "mathutil.py", '''
def gcd(a, b):
    while b:
        a, b = b, a % b
    return a


def lcm(a, b):
    if a == 0 or b == 0:
        return 0
    return a * b // gcd(a, b)
''', '''
from mathutil import gcd, lcm

def test_gcd_coprime():
    assert gcd(7, 0) == 7

def test_gcd():
    assert gcd(48, 18) == 6

def test_gcd_small_first():
    assert gcd(18, 48) == 6

def test_lcm():
    assert lcm(4, 6) == 12

def test_lcm_zero():
    assert lcm(0, 5) == 0
''', ("a, b = b, a % b", "a, b = b, b % a"))

program("fibonacci", "fib.py", '''
def fib(n):
    if n < 2:
        return n
    a, b = 0, 1
    for _ in range(n - 1):
        a, b = b, a + b
    return b
''', '''
from fib import fib

def test_zero():
    assert fib(0) == 0

def test_one():
    assert fib(1) == 1

def test_two():
    assert fib(2) == 1

def test_ten():
    assert fib(10) == 55

def test_sequence():
    assert [fib(i) for i in range(8)] == [0, 1, 1, 2, 3, 5, 8, 13]
''', ("for _ in range(n - 1):", "for _ in range(n):"))

program("is_prime", "primes.py", '''
def is_prime(n):
    if n < 2:
        return False
    i = 2
    while i * i <= n:
        if n % i == 0:
            return False
        i += 1
    return True


def primes_below(limit):
    return [n for n in range(limit) if is_prime(n)]
''', '''
from primes import is_prime, primes_below

def test_small():
    assert not is_prime(0) and not is_prime(1)
    assert is_prime(2) and is_prime(3)

def test_squares_are_not_prime():
    assert not is_prime(4)
    assert not is_prime(49)

def test_large_prime():
    assert is_prime(97)

def test_primes_below():
    assert primes_below(30) == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
''', ("while i * i <= n:", "while i * i < n:"))

program("flatten", "flat.py", '''
def flatten(items):
    out = []
    for item in items:
        if isinstance(item, list):
            out.extend(flatten(item))
        else:
            out.append(item)
    return out
''', '''
from flat import flatten

def test_flat():
    assert flatten([1, 2, 3]) == [1, 2, 3]

def test_one_level():
    assert flatten([1, [2, 3], 4]) == [1, 2, 3, 4]

def test_deep():
    assert flatten([1, [2, [3, [4]]]]) == [1, 2, 3, 4]

def test_empty():
    assert flatten([[], [[]]]) == []
''', ("out.extend(flatten(item))", "out.extend(item)"))

program("run_length", "rle.py", '''
def encode(text):
    out = []
    i = 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        out.append((text[i], j - i))
        i = j
    return out


def decode(pairs):
    return "".join(ch * count for ch, count in pairs)
''', '''
from rle import encode, decode

def test_encode():
    assert encode("aaabcc") == [("a", 3), ("b", 1), ("c", 2)]

def test_empty():
    assert encode("") == []

def test_round_trip():
    assert decode(encode("xxyzzz")) == "xxyzzz"

def test_decode():
    assert decode([("q", 2), ("r", 1)]) == "qqr"
''', ("out.append((text[i], j - i))", "out.append((text[i], i - j))"))

program("matrix_multiply", "matrix.py", '''
def transpose(m):
    return [[m[r][c] for r in range(len(m))] for c in range(len(m[0]))]


def multiply(a, b):
    rows, cols, inner = len(a), len(b[0]), len(b)
    out = [[0] * cols for _ in range(rows)]
    for i in range(rows):
        for j in range(cols):
            for k in range(inner):
                out[i][j] += a[i][k] * b[k][j]
    return out
''', '''
from matrix import transpose, multiply

def test_transpose():
    assert transpose([[1, 2, 3], [4, 5, 6]]) == [[1, 4], [2, 5], [3, 6]]

def test_square():
    assert multiply([[1, 2], [3, 4]], [[5, 6], [7, 8]]) == [[19, 22], [43, 50]]

def test_rectangular():
    assert multiply([[1, 2, 3], [4, 5, 6]], [[7, 8], [9, 10], [11, 12]]) == [[58, 64], [139, 154]]

def test_row_times_column():
    assert multiply([[1, 2, 3]], [[1], [2], [3]]) == [[14]]
''', ("rows, cols, inner = len(a), len(b[0]), len(b)", "rows, cols, inner = len(a), len(b[0]), len(a)"))

program("merge_sort", "msort.py", '''
def merge(left, right):
    out = []
    i = j = 0
    while i < len(left) and j < len(right):
        if left[i] <= right[j]:
            out.append(left[i])
            i += 1
        else:
            out.append(right[j])
            j += 1
    out.extend(left[i:])
    out.extend(right[j:])
    return out


def merge_sort(items):
    if len(items) <= 1:
        return list(items)
    mid = len(items) // 2
    return merge(merge_sort(items[:mid]), merge_sort(items[mid:]))
''', '''
from msort import merge, merge_sort

def test_merge():
    assert merge([1, 4, 9], [2, 3, 10, 11]) == [1, 2, 3, 4, 9, 10, 11]

def test_sort():
    assert merge_sort([5, 2, 9, 1, 5, 6]) == [1, 2, 5, 5, 6, 9]

def test_sorted_input():
    assert merge_sort([1, 2, 3]) == [1, 2, 3]

def test_empty():
    assert merge_sort([]) == []
''', ("out.extend(right[j:])", "out.extend(right[i:])"))

program("palindrome", "pal.py", '''
def is_palindrome(text):
    cleaned = [c.lower() for c in text if c.isalnum()]
    return cleaned == cleaned[::-1]


def longest_palindrome_word(words):
    best = ""
    for word in words:
        if is_palindrome(word) and len(word) > len(best):
            best = word
    return best
''', '''
from pal import is_palindrome, longest_palindrome_word

def test_simple():
    assert is_palindrome("racecar")

def test_sentence():
    assert is_palindrome("A man, a plan, a canal: Panama")

def test_not():
    assert not is_palindrome("hello")

def test_longest():
    assert longest_palindrome_word(["abc", "level", "noon", "x"]) == "level"
''', ("return cleaned == cleaned[::-1]", "return cleaned != cleaned[::-1]"))

program("word_counts", "words.py", '''
def word_counts(text):
    counts = {}
    for word in text.lower().split():
        word = word.strip(".,!?")
        if word:
            counts[word] = counts.get(word, 0) + 1
    return counts


def most_common(text, n):
    counts = word_counts(text)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [word for word, _ in ranked[:n]]
''', '''
from words import word_counts, most_common

def test_counts():
    assert word_counts("the cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}

def test_punctuation():
    assert word_counts("Hi! hi.") == {"hi": 2}

def test_most_common():
    assert most_common("b a b c a b", 2) == ["b", "a"]

def test_empty():
    assert word_counts("") == {}
''', ("counts[word] = counts.get(word, 0) + 1", "counts[word] = counts.get(word, 1) + 1"))

program("stack", "stack.py", '''
class Stack:
    def __init__(self):
        self._items = []

    def push(self, item):
        self._items.append(item)

    def pop(self):
        if not self._items:
            raise IndexError("pop from empty stack")
        return self._items.pop()

    def peek(self):
        if not self._items:
            return None
        return self._items[-1]

    def __len__(self):
        return len(self._items)
''', '''
import pytest
from stack import Stack

def test_push_pop():
    s = Stack()
    s.push(1)
    s.push(2)
    assert s.pop() == 2
    assert len(s) == 1

def test_peek():
    s = Stack()
    s.push("a")
    s.push("b")
    assert s.peek() == "b"
    assert len(s) == 2

def test_peek_empty():
    assert Stack().peek() is None

def test_pop_empty():
    with pytest.raises(IndexError):
        Stack().pop()
''', ("return self._items[-1]", "return self._items[0]"))

program("bank_account", "bank.py", '''
class Account:
    def __init__(self, owner, balance=0):
        self.owner = owner
        self.balance = balance

    def deposit(self, amount):
        if amount <= 0:
            raise ValueError("deposit must be positive")
        self.balance += amount
        return self.balance

    def withdraw(self, amount):
        if amount > self.balance:
            raise ValueError("insufficient funds")
        self.balance -= amount
        return self.balance
''', '''
import pytest
from bank import Account

def test_deposit():
    a = Account("ann")
    assert a.deposit(50) == 50

def test_withdraw_some():
    a = Account("bob", 100)
    assert a.withdraw(30) == 70

def test_withdraw_everything():
    a = Account("cy", 40)
    assert a.withdraw(40) == 0

def test_overdraw():
    with pytest.raises(ValueError):
        Account("dee", 10).withdraw(11)

def test_bad_deposit():
    with pytest.raises(ValueError):
        Account("eve").deposit(0)
''', ("if amount > self.balance:", "if amount >= self.balance:"))

program("factorial", "fact.py", '''
def factorial(n):
    if n < 0:
        raise ValueError("factorial of a negative number")
    if n == 0:
        return 1
    return n * factorial(n - 1)
''', '''
import pytest
from fact import factorial

def test_zero():
    assert factorial(0) == 1

def test_five():
    assert factorial(5) == 120

def test_one():
    assert factorial(1) == 1

def test_negative():
    with pytest.raises(ValueError):
        factorial(-1)
''', ("if n == 0:", "if n == 1:"))

program("fast_power", "power.py", '''
def power(base, exp):
    if exp < 0:
        raise ValueError("negative exponent")
    result = 1
    while exp > 0:
        if exp % 2 == 1:
            result *= base
        base *= base
        exp //= 2
    return result
''', '''
from power import power

def test_zero_exponent():
    assert power(5, 0) == 1

def test_square():
    assert power(3, 2) == 9

def test_odd():
    assert power(2, 5) == 32

def test_big():
    assert power(3, 13) == 3 ** 13
''', ("if exp % 2 == 1:", "if exp % 2 == 0:"))

program("max_subarray", "kadane.py", '''
def max_subarray(nums):
    best = current = nums[0]
    for x in nums[1:]:
        current = max(x, current + x)
        best = max(best, current)
    return best
''', '''
from kadane import max_subarray

def test_classic():
    assert max_subarray([-2, 1, -3, 4, -1, 2, 1, -5, 4]) == 6

def test_all_negative():
    assert max_subarray([-3, -1, -2]) == -1

def test_single():
    assert max_subarray([7]) == 7

def test_all_positive():
    assert max_subarray([1, 2, 3]) == 6
''', ("current = max(x, current + x)", "current = max(x, best + x)"))

program("two_sum", "pairs.py", '''
def two_sum(nums, target):
    seen = {}
    for i, x in enumerate(nums):
        if target - x in seen:
            return (seen[target - x], i)
        seen[x] = i
    return None
''', '''
from pairs import two_sum

def test_found():
    assert two_sum([2, 7, 11, 15], 9) == (0, 1)

def test_later():
    assert two_sum([3, 2, 4], 6) == (1, 2)

def test_none():
    assert two_sum([1, 2], 10) is None
''', ("return (seen[target - x], i)", "return (i, seen[target - x])"))

program("caesar", "cipher.py", '''
def shift_char(c, k):
    if c.isupper():
        return chr((ord(c) - ord("A") + k) % 26 + ord("A"))
    if c.islower():
        return chr((ord(c) - ord("a") + k) % 26 + ord("a"))
    return c


def encrypt(text, k):
    return "".join(shift_char(c, k) for c in text)


def decrypt(text, k):
    return encrypt(text, -k)
''', '''
from cipher import encrypt, decrypt

def test_encrypt():
    assert encrypt("abc", 1) == "bcd"

def test_wrap():
    assert encrypt("xyz", 3) == "abc"

def test_decrypt():
    assert decrypt("bcd", 1) == "abc"

def test_round_trip():
    assert decrypt(encrypt("Hello, World!", 5), 5) == "Hello, World!"
''', ("return encrypt(text, -k)", "return encrypt(text, k)"))

program("chunks", "chunking.py", '''
def chunks(items, size):
    if size <= 0:
        raise ValueError("size must be positive")
    return [items[i:i + size] for i in range(0, len(items), size)]
''', '''
import pytest
from chunking import chunks

def test_even():
    assert chunks([1, 2, 3, 4], 2) == [[1, 2], [3, 4]]

def test_uneven():
    assert chunks([1, 2, 3, 4, 5], 2) == [[1, 2], [3, 4], [5]]

def test_single():
    assert chunks([1, 2, 3], 1) == [[1], [2], [3]]

def test_bad_size():
    with pytest.raises(ValueError):
        chunks([1], 0)
''', ("for i in range(0, len(items), size)", "for i in range(0, len(items) - 1, size)"))

program("insertion_sort", "isort.py", '''
def insertion_sort(items):
    out = list(items)
    for i in range(1, len(out)):
        key = out[i]
        j = i - 1
        while j >= 0 and out[j] > key:
            out[j + 1] = out[j]
            j -= 1
        out[j + 1] = key
    return out
''', '''
from isort import insertion_sort

def test_sort():
    assert insertion_sort([4, 3, 1, 2]) == [1, 2, 3, 4]

def test_sorted():
    assert insertion_sort([1, 2, 3]) == [1, 2, 3]

def test_empty():
    assert insertion_sort([]) == []

def test_smallest_last():
    assert insertion_sort([2, 3, 0]) == [0, 2, 3]
''', ("while j >= 0 and out[j] > key:", "while j > 0 and out[j] > key:"))

program("temperature", "temps.py", '''
def c_to_f(c):
    return c * 9 / 5 + 32


def f_to_c(f):
    return (f - 32) * 5 / 9


def average_f(celsius_values):
    return sum(c_to_f(c) for c in celsius_values) / len(celsius_values)
''', '''
from temps import c_to_f, f_to_c, average_f

def test_boiling():
    assert c_to_f(100) == 212

def test_freezing_back():
    assert f_to_c(32) == 0

def test_body():
    assert round(f_to_c(98.6), 1) == 37.0

def test_average():
    assert average_f([0, 100]) == 122
''', ("return (f - 32) * 5 / 9", "return (f + 32) * 5 / 9"))

program("capitalize", "text.py", '''
VOWELS = "aeiou"


def count_vowels(text):
    return sum(1 for c in text.lower() if c in VOWELS)


def capitalize_words(text):
    return " ".join(w[:1].upper() + w[1:] for w in text.split(" "))
''', '''
from text import count_vowels, capitalize_words

def test_vowels():
    assert count_vowels("Hello World") == 3

def test_capitalize():
    assert capitalize_words("hello big world") == "Hello Big World"

def test_single_letters():
    assert capitalize_words("a b") == "A B"

def test_keeps_rest():
    assert capitalize_words("mcDonald") == "McDonald"
''', ("w[:1].upper() + w[1:]", "w[:1].upper() + w[2:]"))

program("digit_sum", "digits.py", '''
def digit_sum(n):
    n = abs(n)
    total = 0
    while n > 0:
        total += n % 10
        n //= 10
    return total


def digital_root(n):
    while n >= 10:
        n = digit_sum(n)
    return n
''', '''
from digits import digit_sum, digital_root

def test_sum():
    assert digit_sum(1234) == 10

def test_negative():
    assert digit_sum(-56) == 11

def test_zero():
    assert digit_sum(0) == 0

def test_root():
    assert digital_root(9875) == 2
''', ("total += n % 10", "total += n // 10"))

program("to_roman", "roman.py", '''
NUMERALS = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
            (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]


def to_roman(n):
    out = []
    for value, symbol in NUMERALS:
        while n >= value:
            out.append(symbol)
            n -= value
    return "".join(out)
''', '''
from roman import to_roman

def test_three():
    assert to_roman(3) == "III"

def test_four():
    assert to_roman(4) == "IV"

def test_year():
    assert to_roman(1994) == "MCMXCIV"

def test_zero():
    assert to_roman(0) == ""
''', ("while n >= value:", "while n > value:"))

program("from_roman", "unroman.py", '''
VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def from_roman(text):
    total = 0
    for i, ch in enumerate(text):
        value = VALUES[ch]
        if i + 1 < len(text) and VALUES[text[i + 1]] > value:
            total -= value
        else:
            total += value
    return total
''', '''
from unroman import from_roman

def test_simple():
    assert from_roman("III") == 3

def test_subtractive():
    assert from_roman("IX") == 9

def test_year():
    assert from_roman("MCMXCIV") == 1994

def test_empty():
    assert from_roman("") == 0
''', ("if i + 1 < len(text) and", "if i < len(text) and"))

program("matrix_trace", "square.py", '''
def identity(n):
    return [[1 if i == j else 0 for j in range(n)] for i in range(n)]


def trace(m):
    return sum(m[i][i] for i in range(len(m)))


def add(a, b):
    return [[x + y for x, y in zip(ra, rb)] for ra, rb in zip(a, b)]
''', '''
from square import identity, trace, add

def test_identity():
    assert identity(2) == [[1, 0], [0, 1]]

def test_trace():
    assert trace([[1, 2], [3, 4]]) == 5

def test_trace_identity():
    assert trace(identity(4)) == 4

def test_add():
    assert add([[1, 2]], [[3, 4]]) == [[4, 6]]
''', ("for i in range(len(m)))", "for i in range(len(m) - 1))"))

program("linked_list", "linked.py", '''
class Node:
    def __init__(self, value, next=None):
        self.value = value
        self.next = next


class LinkedList:
    def __init__(self):
        self.head = None
        self.size = 0

    def push_front(self, value):
        self.head = Node(value, self.head)
        self.size += 1

    def to_list(self):
        out = []
        node = self.head
        while node is not None:
            out.append(node.value)
            node = node.next
        return out

    def __len__(self):
        return self.size
''', '''
from linked import LinkedList

def test_empty():
    assert LinkedList().to_list() == []
    assert len(LinkedList()) == 0

def test_push():
    items = LinkedList()
    items.push_front(1)
    items.push_front(2)
    assert items.to_list() == [2, 1]

def test_len():
    items = LinkedList()
    for i in range(3):
        items.push_front(i)
    assert len(items) == 3
''', ("self.size += 1", "self.size = 1"))

program("clamp", "bounds.py", '''
def clamp(x, lo, hi):
    if lo > hi:
        raise ValueError("lo must not exceed hi")
    return max(lo, min(x, hi))


def clamp_all(values, lo, hi):
    return [clamp(v, lo, hi) for v in values]
''', '''
import pytest
from bounds import clamp, clamp_all

def test_inside():
    assert clamp(5, 0, 10) == 5

def test_above():
    assert clamp(15, 0, 10) == 10

def test_below():
    assert clamp(-3, 0, 10) == 0

def test_all():
    assert clamp_all([-1, 4, 11], 0, 10) == [0, 4, 10]

def test_bad_bounds():
    with pytest.raises(ValueError):
        clamp(1, 5, 0)
''', ("return max(lo, min(x, hi))", "return max(lo, min(x, lo))"))

program("median", "stats.py", '''
def mean(values):
    return sum(values) / len(values)


def median(values):
    if not values:
        raise ValueError("median of an empty list")
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2 == 1:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2
''', '''
import pytest
from stats import mean, median

def test_mean():
    assert mean([1, 2, 3, 4]) == 2.5

def test_odd():
    assert median([3, 1, 2]) == 2

def test_even():
    assert median([4, 1, 3, 2]) == 2.5

def test_empty():
    with pytest.raises(ValueError):
        median([])
''', ("return (ordered[mid - 1] + ordered[mid]) / 2", "return (ordered[mid - 1] + ordered[mid]) // 2"))

program("leap_year", "calendar_utils.py", '''
def is_leap(year):
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def days_in_year(year):
    return 366 if is_leap(year) else 365
''', '''
from calendar_utils import is_leap, days_in_year

def test_ordinary():
    assert not is_leap(2019)

def test_every_fourth():
    assert is_leap(2024)

def test_century():
    assert not is_leap(1900)

def test_fourth_century():
    assert is_leap(2000)

def test_days():
    assert days_in_year(2023) == 365
''', ("year % 100 != 0 or", "year % 100 == 0 or"))

program("pascal", "triangle.py", '''
def pascal(n):
    rows = []
    for i in range(n):
        row = [1] * (i + 1)
        for j in range(1, i):
            row[j] = rows[i - 1][j - 1] + rows[i - 1][j]
        rows.append(row)
    return rows
''', '''
from triangle import pascal

def test_none():
    assert pascal(0) == []

def test_three():
    assert pascal(3) == [[1], [1, 1], [1, 2, 1]]

def test_five_last():
    assert pascal(5)[-1] == [1, 4, 6, 4, 1]
''', ("row = [1] * (i + 1)", "row = [1] * i"))

program("unique", "dedupe.py", '''
def unique(items):
    seen = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
''', '''
from dedupe import unique

def test_order_kept():
    assert unique([3, 1, 3, 2, 1]) == [3, 1, 2]

def test_empty():
    assert unique([]) == []

def test_strings():
    assert unique(["b", "a", "b"]) == ["b", "a"]
''', ("    return out\n", "    return seen\n"))

program("balanced", "brackets.py", '''
PAIRS = {")": "(", "]": "[", "}": "{"}


def balanced(text):
    stack = []
    for ch in text:
        if ch in "([{":
            stack.append(ch)
        elif ch in PAIRS:
            if not stack or stack.pop() != PAIRS[ch]:
                return False
    return not stack
''', '''
from brackets import balanced

def test_simple():
    assert balanced("()[]{}")

def test_nested():
    assert balanced("{[()()]}")

def test_wrong_order():
    assert not balanced("(]")

def test_close_first():
    assert not balanced(")(")

def test_unclosed():
    assert not balanced("((")
''', ("if not stack or stack.pop()", "if not stack and stack.pop()"))

program("histogram", "hist.py", '''
def histogram(values, bins, lo, hi):
    counts = [0] * bins
    width = (hi - lo) / bins
    for v in values:
        if lo <= v < hi:
            index = int((v - lo) / width)
            counts[index] += 1
    return counts
''', '''
from hist import histogram

def test_spread():
    assert histogram([0, 1, 2, 3], 2, 0, 4) == [2, 2]

def test_outside_ignored():
    assert histogram([-1, 5, 4], 2, 0, 4) == [0, 0]

def test_lower_edge_counts():
    assert histogram([0, 0, 3.9], 4, 0, 4) == [2, 0, 0, 1]
''', ("if lo <= v < hi:", "if lo < v < hi:"))

program("snake_camel", "case.py", '''
def snake_to_camel(name):
    parts = name.split("_")
    return parts[0] + "".join(p.capitalize() for p in parts[1:])


def camel_to_snake(name):
    out = []
    for i, ch in enumerate(name):
        if ch.isupper() and i > 0:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
''', '''
from case import snake_to_camel, camel_to_snake

def test_to_camel():
    assert snake_to_camel("hello_big_world") == "helloBigWorld"

def test_to_snake():
    assert camel_to_snake("helloBigWorld") == "hello_big_world"

def test_leading_capital():
    assert camel_to_snake("Hello") == "hello"

def test_one_word():
    assert snake_to_camel("x") == "x"
''', ("if ch.isupper() and i > 0:", "if ch.isupper() and i >= 0:"))

program("flatten_dict", "nested.py", '''
def flatten_dict(d, prefix=""):
    out = {}
    for key, value in d.items():
        name = prefix + "." + key if prefix else key
        if isinstance(value, dict):
            out.update(flatten_dict(value, name))
        else:
            out[name] = value
    return out
''', '''
from nested import flatten_dict

def test_flat():
    assert flatten_dict({"a": 1}) == {"a": 1}

def test_nested():
    assert flatten_dict({"a": {"b": 1, "c": {"d": 2}}}) == {"a.b": 1, "a.c.d": 2}

def test_mixed():
    assert flatten_dict({"x": 0, "y": {"z": 3}}) == {"x": 0, "y.z": 3}
''', ("out.update(flatten_dict(value, name))", "out.update(flatten_dict(value, key))"))

program("prime_factors", "factors.py", '''
def prime_factors(n):
    factors = []
    d = 2
    while d * d <= n:
        while n % d == 0:
            factors.append(d)
            n //= d
        d += 1
    if n > 1:
        factors.append(n)
    return factors
''', '''
from factors import prime_factors

def test_composite():
    assert prime_factors(60) == [2, 2, 3, 5]

def test_prime():
    assert prime_factors(13) == [13]

def test_two():
    assert prime_factors(2) == [2]

def test_one():
    assert prime_factors(1) == []
''', ("if n > 1:", "if n > 2:"))

program("moving_average", "smooth.py", '''
def moving_average(values, window):
    if window <= 0:
        raise ValueError("window must be positive")
    out = []
    for i in range(len(values) - window + 1):
        out.append(sum(values[i:i + window]) / window)
    return out
''', '''
from smooth import moving_average

def test_window_two():
    assert moving_average([1, 3, 5, 7], 2) == [2, 4, 6]

def test_window_one():
    assert moving_average([1, 2], 1) == [1, 2]

def test_window_all():
    assert moving_average([2, 4, 6], 3) == [4]

def test_too_big():
    assert moving_average([1], 2) == []
''', ("for i in range(len(values) - window + 1):", "for i in range(len(values) - window):"))

program("inventory", "stock.py", '''
class Inventory:
    def __init__(self):
        self.items = {}

    def add(self, name, qty=1):
        if qty <= 0:
            raise ValueError("qty must be positive")
        self.items[name] = self.items.get(name, 0) + qty

    def remove(self, name, qty=1):
        have = self.items.get(name, 0)
        if qty > have:
            raise KeyError(name)
        if qty == have:
            del self.items[name]
        else:
            self.items[name] = have - qty

    def count(self, name):
        return self.items.get(name, 0)

    def total(self):
        return sum(self.items.values())
''', '''
import pytest
from stock import Inventory

def test_add():
    inv = Inventory()
    inv.add("pen", 3)
    inv.add("pen")
    assert inv.count("pen") == 4

def test_remove_some():
    inv = Inventory()
    inv.add("cup", 5)
    inv.remove("cup", 2)
    assert inv.count("cup") == 3

def test_remove_all():
    inv = Inventory()
    inv.add("cup", 2)
    inv.remove("cup", 2)
    assert inv.count("cup") == 0 and inv.total() == 0

def test_remove_too_many():
    inv = Inventory()
    with pytest.raises(KeyError):
        inv.remove("cup")
''', ("self.items[name] = have - qty", "self.items[name] = qty - have"))

program("selection_sort", "ssort.py", '''
def selection_sort(items):
    out = list(items)
    for i in range(len(out)):
        smallest = i
        for j in range(i + 1, len(out)):
            if out[j] < out[smallest]:
                smallest = j
        out[i], out[smallest] = out[smallest], out[i]
    return out
''', '''
from ssort import selection_sort

def test_sort():
    assert selection_sort([3, 1, 2]) == [1, 2, 3]

def test_reverse():
    assert selection_sort([5, 4, 3, 2, 1]) == [1, 2, 3, 4, 5]

def test_mixed():
    assert selection_sort([4, 1, 3, 2, 0]) == [0, 1, 2, 3, 4]

def test_empty():
    assert selection_sort([]) == []
''', ("if out[j] < out[smallest]:", "if out[j] < out[i]:"))

program("normalize", "scale.py", '''
def normalize(values):
    total = sum(values)
    if total == 0:
        return [0.0 for _ in values]
    result = [v / total for v in values]
    return result


def percentages(values):
    return [round(100 * v) for v in normalize(values)]
''', '''
from scale import normalize, percentages

def test_normalize():
    assert normalize([1, 1, 2]) == [0.25, 0.25, 0.5]

def test_zero():
    assert normalize([0, 0]) == [0.0, 0.0]

def test_percentages():
    assert percentages([1, 3]) == [25, 75]
''', ("    return result\n", ""))

program("to_binary", "binary.py", '''
def to_binary(n):
    if n < 0:
        return "-" + to_binary(-n)
    if n < 2:
        return str(n)
    return to_binary(n // 2) + str(n % 2)
''', '''
from binary import to_binary

def test_zero():
    assert to_binary(0) == "0"

def test_one():
    assert to_binary(1) == "1"

def test_five():
    assert to_binary(5) == "101"

def test_negative():
    assert to_binary(-2) == "-10"
''', ("if n < 2:", "if n < 1:"))

program("argmax", "best.py", '''
def argmax(values):
    if not values:
        raise ValueError("argmax of an empty list")
    best = 0
    for i in range(1, len(values)):
        if values[i] > values[best]:
            best = i
    return best
''', '''
import pytest
from best import argmax

def test_simple():
    assert argmax([1, 5, 3]) == 1

def test_first_of_ties():
    assert argmax([2, 7, 7, 1]) == 1

def test_last():
    assert argmax([1, 2, 9]) == 2

def test_empty():
    with pytest.raises(ValueError):
        argmax([])
''', ("if values[i] > values[best]:", "if values[i] >= values[best]:"))

program("dot_product", "vectors.py", '''
def dot(a, b):
    if len(a) != len(b):
        raise ValueError("length mismatch")
    return sum(x * y for x, y in zip(a, b))


def norm(a):
    return dot(a, a) ** 0.5


def scale(a, k):
    return [k * x for x in a]
''', '''
import pytest
from vectors import dot, norm, scale

def test_dot():
    assert dot([1, 2, 3], [4, 5, 6]) == 32

def test_norm():
    assert norm([3, 4]) == 5

def test_mismatch():
    with pytest.raises(ValueError):
        dot([1], [1, 2])

def test_scale():
    assert scale([1, 2], 3) == [3, 6]
''', ("if len(a) != len(b):", "if len(a) == len(b):"))

program("nested_depth", "depth.py", '''
def depth(x):
    if not isinstance(x, list):
        return 0
    if not x:
        return 1
    return 1 + max(depth(item) for item in x)
''', '''
from depth import depth

def test_scalar():
    assert depth(5) == 0

def test_flat():
    assert depth([1, 2]) == 1

def test_nested():
    assert depth([1, [2, [3]]]) == 3

def test_empty():
    assert depth([]) == 1
''', ("if not x:", "if x:"))


def buggy_source(source, bug):
    old, new = bug
    if source.count(old) != 1:
        raise ValueError(f"the bug text {old!r} occurs {source.count(old)} times")
    return source.replace(old, new)


def materialize(folder, which="all"):
    """Writes one folder per program of the split (`dev`, `heldout` or `all`) under `folder`; returns them."""
    import pathlib

    out = []
    for name, module, source, tests, bug in PROGRAMS:
        if which != "all" and split(name) != which:
            continue
        target = pathlib.Path(folder) / name
        target.mkdir(parents=True, exist_ok=True)
        (target / module).write_text(buggy_source(source, bug))
        (target / ("test_" + module)).write_text(tests)
        (target / "intended.py.txt").write_text(source)
        out.append(target)
    return out


if __name__ == "__main__":
    from collections import Counter

    print(len(PROGRAMS), "programs", dict(Counter(split(p[0]) for p in PROGRAMS)))
