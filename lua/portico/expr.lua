-- expr.lua - APIM policy expressions (a C# subset) translated to Lua, once, at load time.
--
-- Owns: the C# lexer, the parser (C# text -> syntax tree) and the code generator
-- (tree -> Lua source), and the load-time checks that keep everything outside the
-- subset from reaching run time: unknown names, types, static members, instance
-- member names (rt.MEMBERS), generic arguments and literal regex patterns are errors
-- here, with file:line:col.
--
-- Does not own: what the generated code calls at run time. Every operation whose
-- meaning depends on a value (member access, calls, indexers, `+`, `/`, casts) goes
-- through `rt` (lua/portico/csharp.lua, which documents the object model); the
-- generated code reads no global at all, only its two parameters and its locals.
--
-- The parts live in portico/expr/; this file keeps the entry points:
--   expr/errors.lua      errors raised as tables; their file:line:col (locate)
--   expr/lexer.lua       C# text -> tokens
--   expr/types.lua       type names, and what the translator knows about types (TYPES)
--   expr/parser.lua      tokens -> syntax tree; type_text
--   expr/checks.lua      the load-time checks: member names, known types, dotted names,
--                        literal regex patterns; allow_members
--   expr/codegen.lua     syntax tree -> Lua: the generator and the expressions
--   expr/statements.lua  syntax tree -> Lua: the statements
--
--   local lua_src, err = expr.translate(text, kind, where)
--   local fn, err = expr.compile(text, kind, where, env)   -- translate + load + run the chunk
--     text  the C# inside @( ... ) or @{ ... }, named values already substituted
--     kind  "expr" for the inside of @( ... ), "block" for the inside of @{ ... }
--     where "file:line:col" of the FIRST CHARACTER OF `text` (not of the '@'): an error
--           at line l, column c of the text is reported at line+l-1 and, on the first
--           line, col+c-1; a `where` without line:col gets ":l:c" appended
--     env   the environment the chunk is loaded in (the sandbox); the code needs none
--   lua_src is a chunk returning function(context, rt) -> value (rt = portico.csharp)
--   err     "file:line:col: unsupported C# construct 'yield return' (iterators are not supported)"
--           "file:line:col: C# syntax error: expected ')' but found ';'"
--           "file:line:col: unknown name 'foo' (not a local variable, ...)"
--           "file:line:col: C# error: 'MatchedParameters' is a property, not a method"
--   expr.allow_members(props, methods) accepts more member names (custom context objects).
--
-- Translation notes: static types are tracked where C# makes them obvious (literals,
-- declared locals, casts, Parse...) so that `a + b` on strings becomes `..`, int / int
-- becomes rt.idiv (truncating) and numbers add natively; otherwise rt.add / rt.div decide
-- at run time. `c ? a : b` is `c and a or b` when `a` can never be nil/false, else a small
-- closure. out arguments and `is T x` declare a local before the statement and assign it
-- through a setter function. try/catch/finally becomes rt.try with the bodies as
-- functions (return/break/continue travel back as codes). Local functions are hoisted
-- with the block's variables so they can be called before their declaration.

local find = string.find
local concat = table.concat
local type, error, ipairs, tostring, pcall, load = type, error, ipairs, tostring, pcall, load

local errors = require "portico.expr.errors"
local lexer = require "portico.expr.lexer"
local types = require "portico.expr.types"
local parsing = require "portico.expr.parser"
local checks = require "portico.expr.checks"
local codegen = require "portico.expr.codegen"
require "portico.expr.statements" -- adds the statements to codegen's generator
local fail, locate, lex = errors.fail, errors.locate, lexer.lex
local parser, tok_text, new_gen = parsing.parser, parsing.tok_text, codegen.new_gen

local M = {}

M.TYPES = types.TYPES
M.type_text = parsing.type_text
M.lua_string = codegen.lua_string
M.allow_members = checks.allow_members
M.locate = locate

------------------------------------------------------------------------------
-- entry points

local function generate(src, kind)
  local toks = lex(src)
  local ps = parser(toks, src)
  local g = new_gen(src, kind)
  if kind == "expr" then
    local e = ps:expr()
    if ps:peek().t ~= "eof" then
      local t = ps:peek()
      fail(t.p, "C# syntax error: unexpected " .. tok_text(t) .. " after the expression")
    end
    g.pre = {}
    local r = g:expr(e)
    for _, l in ipairs(g.pre) do g:line(l) end
    g:line("return " .. r.code)
  elseif kind == "block" then
    local body = ps:block_body("eof")
    g.kind = "block"
    g:stmts(body)
    -- C# requires every path of a block to return; a block that can fall off the end
    -- returns null here (the check is not done)
  else
    error("expr.translate: kind must be \"expr\" or \"block\", got " .. tostring(kind), 2)
  end
  return "return function(context, rt)\n" .. concat(g.out, "\n") .. "\nend\n"
end

function M.translate(text, kind, where)
  if type(text) ~= "string" then return nil, (where or "expression") .. ": expression text must be a string" end
  local ok, res = pcall(generate, text, kind)
  if ok then return res end
  if type(res) == "table" and res.expr_error then
    return nil, locate(where, text, res.p) .. ": " .. res.msg
  end
  if type(res) == "string" and find(res, "kind must be") then error(res, 2) end
  return nil, locate(where, text, 1) .. ": internal error in the expression translator: " .. tostring(res)
end

function M.compile(text, kind, where, env)
  local src, err = M.translate(text, kind, where)
  if not src then return nil, err end
  local chunk, lerr = load(src, "=" .. (where or "expression"), "t", env or {})
  if not chunk then
    return nil, (where or "expression") .. ": internal error: generated Lua does not load: " .. lerr
  end
  local ok, fn = pcall(chunk)
  if not ok then return nil, (where or "expression") .. ": " .. tostring(fn) end
  return fn
end

return M
