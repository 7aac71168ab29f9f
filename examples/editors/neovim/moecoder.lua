-- moecoder's language server in Neovim's built-in LSP client (Neovim 0.7 and later).
-- Put this file on your runtimepath (e.g. ~/.config/nvim/lua/moecoder.lua) and call
--   require("moecoder").setup({ cmd = { "moecoder", "lsp", "--model", "/path/to/model.gguf" } })
-- or source it directly: `:luafile moecoder.lua` starts the server for the filetypes below.
--
-- Completions come as one multi-line item (<C-x><C-o> with omnifunc, or your completion plugin);
-- syntax errors as diagnostics; quick fixes with vim.lsp.buf.code_action(); tests with
--   :lua vim.lsp.buf.execute_command({ command = "moecoder.generateTests", arguments = { vim.uri_from_bufnr(0) } })

local M = {}

M.filetypes = { "python", "javascript", "go", "rust", "java", "c", "swift" }

function M.start(bufnr, opts)
  local config = {
    name = "moecoder",
    cmd = opts.cmd or { "moecoder", "lsp" },
    root_dir = opts.root_dir or vim.fn.getcwd(),
    on_attach = function(_, buf)
      vim.api.nvim_buf_set_option(buf, "omnifunc", "v:lua.vim.lsp.omnifunc")
    end,
  }
  if vim.lsp.start then -- Neovim 0.8+: reuses a running client for the same root
    return vim.lsp.start(config, { bufnr = bufnr })
  end
  M.client_id = M.client_id or vim.lsp.start_client(config)
  vim.lsp.buf_attach_client(bufnr, M.client_id)
  return M.client_id
end

function M.setup(opts)
  opts = opts or {}
  vim.api.nvim_create_autocmd("FileType", {
    pattern = opts.filetypes or M.filetypes,
    callback = function(args) M.start(args.buf, opts) end,
  })
end

return M
