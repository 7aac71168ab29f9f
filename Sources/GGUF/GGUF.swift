// The GGUF module; see README.md and DESIGN.md.
