// The Engine module; see README.md and DESIGN.md.
