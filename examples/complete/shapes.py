"""Shapes with a hole to fill: `moecoder complete examples/complete/shapes.py --line 25 --column 9`."""

import math
from dataclasses import dataclass


@dataclass
class Circle:
    radius: float

    def area(self) -> float:
        return math.pi * self.radius ** 2

    def perimeter(self) -> float:
        """The length of the circle's boundary."""
        return 2 * math.pi * self.radius


@dataclass
class Rectangle:
    width: float
    height: float

    def area(self) -> float:
        

    def perimeter(self) -> float:
        return 2 * (self.width + self.height)
