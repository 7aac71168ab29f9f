"""Directed graphs: shortest paths by breadth-first search, cycles, topological order."""
from collections import deque


class Graph:
    def __init__(self):
        self.edges = {}

    def add_edge(self, source: str, target: str) -> None:
        if source == target:
            raise ValueError("self-loops are not allowed")
        self.edges.setdefault(source, set()).add(target)
        self.edges.setdefault(target, set())

    def neighbours(self, node: str) -> list[str]:
        # Planted bug: an unknown node raises KeyError.
        return sorted(self.edges[node])

    def shortest_path(self, start: str, goal: str) -> list[str]:
        if start not in self.edges or goal not in self.edges:
            return []
        previous = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node == goal:
                path = []
                while node is not None:
                    path.append(node)
                    node = previous[node]
                return path[::-1]
            for nxt in sorted(self.edges[node]):
                if nxt not in previous:
                    previous[nxt] = node
                    queue.append(nxt)
        return []

    def has_cycle(self) -> bool:
        state = {}

        def visit(node):
            state[node] = "active"
            for nxt in self.edges[node]:
                if state.get(nxt) == "active":
                    return True
                if nxt not in state and visit(nxt):
                    return True
            state[node] = "done"
            return False

        return any(visit(n) for n in sorted(self.edges) if n not in state)

    def topological_order(self) -> list[str]:
        if self.has_cycle():
            raise ValueError("graph has a cycle")
        indegree = {n: 0 for n in self.edges}
        for targets in self.edges.values():
            for t in targets:
                indegree[t] += 1
        ready = sorted(n for n, d in indegree.items() if d == 0)
        order = []
        while ready:
            node = ready.pop(0)
            order.append(node)
            for t in sorted(self.edges[node]):
                indegree[t] -= 1
                if indegree[t] == 0:
                    ready.append(t)
        return order


def from_pairs(pairs: list[tuple[str, str]]) -> Graph:
    graph = Graph()
    for source, target in pairs:
        graph.add_edge(source, target)
    return graph
