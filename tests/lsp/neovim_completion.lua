-- Headless Neovim: attach `moecoder lsp` to a Python buffer through examples/editors/neovim/moecoder.lua and
-- ask for a completion. Prints NVIM-LSP-OK and exits 0 on success; exits 1 with a reason otherwise.
-- Run: MOECODER_BIN=... MOECODER_LSP_MODEL=... MOECODER_ROOT=... nvim --headless --clean -c "luafile tests/lsp/neovim_completion.lua"

local function fail(why)
  io.stderr:write("neovim test: " .. why .. "\n")
  vim.cmd("cquit 1")
end

local ok, err = pcall(function()
  local root = os.getenv("MOECODER_ROOT") or vim.fn.getcwd()
  package.path = root .. "/examples/editors/neovim/?.lua;" .. package.path
  local moecoder = require("moecoder")
  moecoder.setup({ cmd = { os.getenv("MOECODER_BIN"), "lsp", "--model", os.getenv("MOECODER_LSP_MODEL"),
                           "--max-tokens", "16" } })

  local file = vim.fn.tempname() .. ".py"
  vim.fn.writefile({ "def add(a, b):", "    return a + b", "", "", "value = " }, file)
  vim.cmd("edit " .. file)
  vim.cmd("setfiletype python")

  local attached = vim.wait(15000, function() return #vim.lsp.buf_get_clients(0) > 0 end, 50)
  if not attached then return fail("the server did not attach to the buffer") end
  local ready = vim.wait(15000, function()
    for _, client in pairs(vim.lsp.buf_get_clients(0)) do
      if client.initialized or client.server_capabilities or client.resolved_capabilities then return true end
    end
    return false
  end, 50)
  if not ready then return fail("the server did not initialize") end

  vim.api.nvim_win_set_cursor(0, { 5, 8 })
  local params = vim.lsp.util.make_position_params()
  local responses = vim.lsp.buf_request_sync(0, "textDocument/completion", params, 30000)
  if not responses then return fail("no answer to textDocument/completion") end
  for _, response in pairs(responses) do
    if response.err then return fail("completion error: " .. vim.inspect(response.err)) end
    local items = response.result and (response.result.items or response.result) or {}
    if #items >= 1 and items[1].textEdit and #items[1].textEdit.newText > 0 then
      io.stdout:write("NVIM-LSP-OK " .. vim.inspect(items[1].label) .. "\n")
      vim.lsp.stop_client(vim.lsp.get_active_clients())
      vim.wait(2000, function() return #vim.lsp.get_active_clients() == 0 end, 50)
      vim.cmd("qall!")
      return
    end
  end
  fail("no completion item in " .. vim.inspect(responses))
end)
if not ok then fail(tostring(err)) end
