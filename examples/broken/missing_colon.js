function area(shape) {
  switch (shape.kind) {
    case "circle": return Math.PI * shape.r ** 2;
    case "square" return shape.side ** 2;
  }
}
