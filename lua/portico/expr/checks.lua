-- expr/checks.lua - the load-time checks of the expression translator: what is not
-- in Portico's C# subset fails when the policy loads, with its position, instead of
-- at run time.
--
-- Owns: member names (rt.MEMBERS, plus what expr.allow_members adds for custom
-- context objects; a property called as a method or the reverse is a C# error),
-- dotted names that must start with a known type, type names used in declarations,
-- casts, is/as, new[] and generic arguments, and literal regular expression patterns
-- (compiled once by the runtime).
--
-- Does not own: the tables of types (types.lua), static members (codegen.lua checks
-- them as it writes them), syntax (parser.lua).

local format, sub = string.format, string.sub
local concat = table.concat
local pairs, ipairs, pcall = pairs, ipairs, pcall

local rt = require "portico.csharp"
local errors = require "portico.expr.errors"
local types = require "portico.expr.types"
local parser = require "portico.expr.parser"
local fail, unsupported = errors.fail, errors.unsupported
local T, NAMESPACES, KEYWORD_TYPES, OPAQUE, canon_name =
  types.TYPES, types.NAMESPACES, types.KEYWORD_TYPES, types.OPAQUE, types.canon_name
local type_text = parser.type_text

local M = {}

------------------------------------------------------------------------------
-- names: a dotted chain not rooted at a local must name a type

local function is_namespace_prefix(text)
  for ns in pairs(NAMESPACES) do
    if ns == text or sub(ns, 1, #text + 1) == text .. "." then return true end
  end
  return false
end

-- A dotted chain rooted at a name that is neither a local nor `context` must start
-- with a type (Type.Member.More...): otherwise it names something unknown.
local function chain_start(node)
  while node.k == "member" do node = node.obj end
  return node.p
end

local function check_chain(text, full, p)
  local parts = {}
  for part in text:gmatch("[^.]+") do parts[#parts + 1] = part end
  for k = #parts - 1, 1, -1 do
    local prefix = concat(parts, ".", 1, k)
    if T[canon_name(prefix)] then return end
  end
  if is_namespace_prefix(text) or (#parts > 1 and is_namespace_prefix(parts[1])) then
    unsupported(p, full, "type not in Portico's C# subset")
  end
  fail(p, format("unknown name '%s' (not a local variable, a parameter, 'context' or a supported type)", parts[1]))
end

------------------------------------------------------------------------------
-- member names

local KNOWN_PROPS, KNOWN_METHODS = rt.MEMBERS.props, rt.MEMBERS.methods
local EXTRA_PROPS, EXTRA_METHODS = {}, {}

-- Lets an embedder allow more member names (a custom context object).
function M.allow_members(props, methods)
  for _, n in ipairs(props or {}) do EXTRA_PROPS[n] = true end
  for _, n in ipairs(methods or {}) do EXTRA_METHODS[n] = true end
end

local function check_prop(name, p)
  if not (KNOWN_PROPS[name] or EXTRA_PROPS[name]) then
    if KNOWN_METHODS[name] or EXTRA_METHODS[name] then
      fail(p, format("C# error: '%s' is a method; call it with ( )", name))
    end
    unsupported(p, "." .. name, "member not in Portico's C# subset")
  end
end

local function check_method(name, p)
  if not (KNOWN_METHODS[name] or EXTRA_METHODS[name]) then
    if KNOWN_PROPS[name] or EXTRA_PROPS[name] then
      fail(p, format("C# error: '%s' is a property, not a method", name))
    end
    unsupported(p, "." .. name .. "(...)", "method not in Portico's C# subset")
  end
end

------------------------------------------------------------------------------
-- types and patterns

-- a known type name, or a load-time error
local function check_type_known(ty)
  local n = ty.name
  if KEYWORD_TYPES[n] or T[n] or OPAQUE[n] then return true end
  unsupported(ty.p, type_text(ty), "type not in Portico's C# subset")
end

-- a literal regular expression is compiled at load time, so a bad or unsupported
-- pattern fails there
local function check_pattern(arg, method)
  if method == "Escape" or method == "Unescape" then return end
  if not (arg and arg.e and arg.e.k == "str") then return end
  local ok, e = pcall(rt.regex_check, arg.e.v)
  if not ok then fail(arg.e.p, "C# error: " .. rt.message(e)) end
end

M.chain_start, M.check_chain, M.check_prop, M.check_method = chain_start, check_chain, check_prop, check_method
M.check_type_known, M.check_pattern = check_type_known, check_pattern

return M
