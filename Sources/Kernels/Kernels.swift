// The Kernels module; see README.md and DESIGN.md.
