-- expr/errors.lua - the translator's errors: raised as tables inside the lexer,
-- parser and code generator, turned into "file:line:col: message" by translate.
--
-- Owns: fail (any error at a source offset), unsupported (a construct outside
-- Portico's C# subset, with a hint), locate (an offset of the C# text -> "where" of the
-- error, relative to where the text starts in its document).
--
-- Does not own: the messages (each part of the translator writes its own), catching
-- the errors (expr.lua's translate).

local find, format, match = string.find, string.format, string.match
local error, tonumber = error, tonumber

local M = {}

------------------------------------------------------------------------------
-- errors: raised as tables inside, turned into "where: message" by translate

local function fail(p, msg)
  error({ expr_error = true, p = p, msg = msg }, 0)
end

local function unsupported(p, what, hint)
  fail(p, format("unsupported C# construct '%s' (%s)", what, hint))
end
M.fail, M.unsupported = fail, unsupported

------------------------------------------------------------------------------
-- positions: an offset of the text -> file:line:col

local function position(src, p)
  local line, col = 1, 1
  local i = 1
  while true do
    local nl = find(src, "\n", i, true)
    if not nl or nl >= p then break end
    line = line + 1
    i = nl + 1
  end
  col = p - i + 1
  return line, col
end

local function locate(where, src, p)
  local line, col = position(src, p or 1)
  local file, bl, bc = match(where or "", "^(.*):(%d+):(%d+)$")
  if file then
    bl, bc = tonumber(bl), tonumber(bc)
    if line == 1 then return format("%s:%d:%d", file, bl, bc + col - 1) end
    return format("%s:%d:%d", file, bl + line - 1, col)
  end
  return format("%s:%d:%d", where or "expression", line, col)
end
M.locate = locate

return M
