// Assist: completion, test generation and repair, on top of Syntax and Engine.
