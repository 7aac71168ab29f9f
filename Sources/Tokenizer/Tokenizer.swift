// The Tokenizer module; see README.md and DESIGN.md.
