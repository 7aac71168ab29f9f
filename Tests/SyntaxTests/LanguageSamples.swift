/// A valid and an invalid program per language, with where the error must be reported (1-based).
struct LanguageSample: Sendable, CustomStringConvertible {
    var language: String
    var valid: String
    var invalid: String
    var errorLine: Int
    var errorColumn: Int

    var description: String { language }

    static let all: [LanguageSample] = [
        LanguageSample(language: "python", valid: """
            import os

            class Stack:
                \"\"\"A stack.\"\"\"
                def __init__(self):
                    self.items = []

                def push(self, item: int) -> None:
                    self.items.append(item)

            def main(argv=None, *args, **kw):
                s = Stack()
                for i in range(10):
                    if i % 2 == 0:
                        s.push(i)
                return [x ** 2 for x in s.items if x > 2]
            """, invalid: "def f(x):\n    y = [x, 1)\n    return y\n", errorLine: 2, errorColumn: 14),
        LanguageSample(language: "javascript", valid: """
            import { readFile } from 'fs';
            export class Queue {
              #items = [];
              push(x) { this.#items.push(x); return this; }
              get size() { return this.#items.length; }
            }
            const sum = (...xs) => xs.reduce((a, b) => a + b, 0);
            async function main() { const q = new Queue(); await Promise.resolve(q.push(`n=${sum(1, 2)}`)); }
            """, invalid: "function f(a, b) {\n  return a + * b;\n}\n", errorLine: 2, errorColumn: 14),
        LanguageSample(language: "go", valid: """
            package main

            import "fmt"

            type Point struct{ X, Y int }

            func (p *Point) Add(q Point) Point { return Point{p.X + q.X, p.Y + q.Y} }

            func main() {
            \tfor i := 0; i < 3; i++ {
            \t\tfmt.Println(i)
            \t}
            }
            """, invalid: "package main\n\nfunc main() {\n\tx := 1 +\n}\n", errorLine: 5, errorColumn: 1),
        LanguageSample(language: "rust", valid: """
            use std::collections::HashMap;

            #[derive(Debug)]
            struct Counter { counts: HashMap<String, usize> }

            impl Counter {
                fn add(&mut self, word: &str) -> usize {
                    let n = self.counts.entry(word.to_string()).or_insert(0);
                    *n += 1;
                    *n
                }
            }

            fn main() { let mut c = Counter { counts: HashMap::new() }; println!("{}", c.add("a")); }
            """, invalid: "fn main() {\n    let x = 1 +;\n}\n", errorLine: 2, errorColumn: 16),
        LanguageSample(language: "java", valid: """
            import java.util.List;

            public class Main {
                private final int n;
                public Main(int n) { this.n = n; }
                public int twice() { return n * 2; }
                public static void main(String[] args) {
                    for (String a : List.of("x", "y")) { System.out.println(a); }
                }
            }
            """, invalid: "class A {\n    void f() { int x = ; }\n}\n", errorLine: 2, errorColumn: 24),
        LanguageSample(language: "c", valid: """
            #include <stdio.h>

            struct point { int x, y; };

            static int add(int a, int b) { return a + b; }

            int main(void) {
                struct point p = { 1, 2 };
                printf("%d\\n", add(p.x, p.y));
                return 0;
            }
            """, invalid: "int main(void) {\n    int x = 1 +;\n    return x;\n}\n", errorLine: 2, errorColumn: 16),
        LanguageSample(language: "swift", valid: """
            import Foundation

            struct Stack<T> {
                private var items: [T] = []
                mutating func push(_ item: T) { items.append(item) }
                var top: T? { items.last }
            }

            func main() {
                var s = Stack<Int>()
                for i in 0..<3 { s.push(i) }
                print(s.top ?? -1)
            }
            """, invalid: "func f() {\n    let x = (1 + 2\n    print(x)\n}\n}\n", errorLine: 2, errorColumn: 19),
    ]
}
