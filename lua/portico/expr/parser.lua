-- expr/parser.lua - the C# parser of the expression translator: tokens -> syntax
-- tree (tables { k = kind, p = offset, ... }).
--
-- Owns: the grammar of the subset (statements: blocks, declarations, local
-- functions, if, loops, switch, try/catch/finally, throw, return; expressions:
-- lambdas, ?:, ??, binary operators by precedence, is/as patterns, casts, unary and
-- postfix operators, calls with named and out arguments, generic method arguments,
-- indexers, new with initializers, arrays, interpolated strings), type syntax
-- (type_text: a type node as C# text, exported as expr.type_text), and the C#
-- syntax errors and constructs refused while parsing (yield, goto, unsafe code,
-- switch expressions, tuples...).
--
-- Does not own: tokens (lexer.lua), whether a name or type is known (checks.lua),
-- code (codegen.lua, statements.lua).

local find, format, rep = string.find, string.format, string.rep
local concat = table.concat
local type, ipairs, tostring, setmetatable = type, ipairs, tostring, setmetatable

local errors = require "portico.expr.errors"
local types = require "portico.expr.types"
local fail, unsupported = errors.fail, errors.unsupported
local ALIAS, KEYWORD_TYPES, canon_name = types.ALIAS, types.KEYWORD_TYPES, types.canon_name

local M = {}

------------------------------------------------------------------------------
-- parser

local P = {}
P.__index = P

local function parser(toks, src)
  return setmetatable({ toks = toks, i = 1, src = src }, P)
end

function P:peek(k) return self.toks[self.i + (k or 0)] or self.toks[#self.toks] end
function P:advance() local t = self.toks[self.i]; self.i = self.i + 1; return t end
function P:op(v, k) local t = self:peek(k); return t.t == "op" and t.v == v end
function P:kw(v, k) local t = self:peek(k); return t.t == "id" and t.v == v and not t.verbatim end
function P:accept(v) if self:op(v) then return self:advance() end end
function P:accept_kw(v) if self:kw(v) then return self:advance() end end

local function tok_text(t)
  if t.t == "eof" then return "end of expression" end
  if t.t == "str" or t.t == "istr" then return "string literal" end
  if t.t == "chr" then return "character literal" end
  return "'" .. tostring(t.v) .. "'"
end

function P:expect(v)
  if self:op(v) then return self:advance() end
  local t = self:peek()
  fail(t.p, format("C# syntax error: expected '%s' but found %s", v, tok_text(t)))
end

function P:ident()
  local t = self:peek()
  if t.t ~= "id" then fail(t.p, "C# syntax error: expected a name but found " .. tok_text(t)) end
  return self:advance()
end

-- C# keywords that can never be a variable or a type name
local RESERVED = {}
for w in ([[abstract as base break case catch checked class const continue default delegate do
  else enum event explicit extern false finally fixed for foreach goto if implicit in interface
  internal is lock namespace new null operator out override params private protected public
  readonly ref return sealed sizeof stackalloc static struct switch this throw true try typeof
  unchecked unsafe using virtual volatile while]]):gmatch("%a+") do RESERVED[w] = true end

-- type := name ('.' name)* typeargs? ('?')? ('[' ','* ']')*   -> node or nil (no tokens consumed)
function P:try_type()
  local save = self.i
  local t = self:peek()
  if t.t ~= "id" or (RESERVED[t.v] and not t.verbatim) then return nil end
  local parts = { self:advance().v }
  while self:op(".") and self:peek(1).t == "id" do
    self:advance()
    parts[#parts + 1] = self:advance().v
  end
  local dotted = concat(parts, ".")
  local ty = { k = "type", name = canon_name(dotted), dotted = dotted, p = t.p, rank = 0 }
  if self:op("<") then
    self:advance()
    ty.args = {}
    repeat
      local a = self:try_type()
      if not a then self.i = save; return nil end
      ty.args[#ty.args + 1] = a
    until not self:accept(",")
    if not self:accept(">") then self.i = save; return nil end
    -- Outer.Inner after generics (rare): not supported as a type
    if self:op(".") and self:peek(1).t == "id" and self:peek(2).t ~= "op" then
      -- leave the dot to the caller (static member access on a generic type)
    end
  end
  if self:op("?") then
    -- nullable only when what follows cannot start an expression of a ternary
    local nx = self:peek(1)
    if nx.t == "id" or (nx.t == "op" and (nx.v == ")" or nx.v == "[" or nx.v == "," or nx.v == ">")) then
      self:advance()
      ty.nullable = true
    end
  end
  while self:op("[") and (self:op("]", 1) or self:op(",", 1)) do
    self:advance()
    while self:accept(",") do end
    self:expect("]")
    ty.rank = ty.rank + 1
  end
  return ty
end

local function type_text(ty)
  local s = ty.name
  if ty.args then
    local a = {}
    for i, x in ipairs(ty.args) do a[i] = type_text(x) end
    s = s .. "<" .. concat(a, ",") .. ">"
  end
  if ty.nullable then s = s .. "?" end
  return s .. rep("[]", ty.rank)
end
M.type_text = type_text

-- statements ---------------------------------------------------------------

function P:block_body(stop)
  local list = {}
  while not self:op(stop) do
    if self:peek().t == "eof" then
      if stop == "eof" then break end
      self:expect("}")
    end
    list[#list + 1] = self:statement()
  end
  return list
end

function P:block()
  local p = self:expect("{").p
  local body = self:block_body("}")
  self:expect("}")
  return { k = "block", body = body, p = p }
end

function P:embedded()
  if self:op("{") then return self:block() end
  local s = self:statement()
  return { k = "block", body = { s }, p = s.p }
end

local STMT_UNSUPPORTED = {
  yield = "iterators are not supported", ["goto"] = "goto is not supported",
  lock = "lock is not supported", fixed = "unsafe code is not supported",
  unsafe = "unsafe code is not supported", using = "using statements are not supported",
  await = "async code is not supported", class = "type declarations are not supported",
  struct = "type declarations are not supported", interface = "type declarations are not supported",
  enum = "type declarations are not supported", delegate = "delegates are not supported",
}

function P:statement()
  local t = self:peek()
  if t.t == "op" then
    if t.v == "{" then return self:block() end
    if t.v == ";" then self:advance(); return { k = "empty", p = t.p } end
  end
  if t.t == "id" and not t.verbatim then
    local v = t.v
    if v == "yield" and (self:kw("return", 1) or self:kw("break", 1)) then
      unsupported(t.p, "yield " .. self:peek(1).v, STMT_UNSUPPORTED.yield)
    end
    if STMT_UNSUPPORTED[v] and v ~= "yield" and v ~= "await" then
      unsupported(t.p, v, STMT_UNSUPPORTED[v])
    end
    if v == "if" then return self:if_stmt() end
    if v == "return" then
      self:advance()
      local e
      if not self:op(";") then e = self:expr() end
      self:expect(";")
      return { k = "return", e = e, p = t.p }
    end
    if v == "foreach" then return self:foreach_stmt() end
    if v == "for" then return self:for_stmt() end
    if v == "while" then
      self:advance(); self:expect("(")
      local c = self:expr()
      self:expect(")")
      return { k = "while", cond = c, body = self:embedded(), p = t.p }
    end
    if v == "do" then
      self:advance()
      local body = self:embedded()
      if not self:accept_kw("while") then self:expect("while") end
      self:expect("(")
      local c = self:expr()
      self:expect(")"); self:expect(";")
      return { k = "dowhile", cond = c, body = body, p = t.p }
    end
    if v == "break" or v == "continue" then
      self:advance(); self:expect(";")
      return { k = v, p = t.p }
    end
    if v == "throw" then
      self:advance()
      local e
      if not self:op(";") then e = self:expr() end
      self:expect(";")
      return { k = "throw", e = e, p = t.p }
    end
    if v == "try" then return self:try_stmt() end
    if v == "switch" then return self:switch_stmt() end
    if (v == "checked" or v == "unchecked") and self:op("{", 1) then
      self:advance()
      return self:block()
    end
    if v == "const" then
      self:advance()
      local d = self:try_declaration()
      if not d then fail(t.p, "C# syntax error: expected a constant declaration") end
      self:expect(";")
      return d
    end
    if (v == "var" or v == "let") and self:op("(", 1) then
      unsupported(t.p, v .. " (...)", "deconstruction is not supported")
    end
    local d = self:try_local_function() or self:try_declaration()
    if d then
      if d.k == "decl" then self:expect(";") end
      return d
    end
  end
  local e = self:expr()
  self:expect(";")
  local k = e.k
  if not (k == "assign" or k == "call" or k == "incdec" or k == "new" or k == "invoke") then
    fail(e.p, "C# syntax error: only assignment, call, increment, decrement and new "
      .. "expressions can be used as a statement")
  end
  return { k = "expr", e = e, p = e.p }
end

-- `Type name = e, name2;` or `var name = e;`
function P:try_declaration()
  local save = self.i
  local ty = self:try_type()
  if not ty then return nil end
  local nt = self:peek()
  if nt.t ~= "id" or (RESERVED[nt.v] and not nt.verbatim) then self.i = save; return nil end
  local after = self:peek(1)
  if not (after.t == "op" and (after.v == "=" or after.v == ";" or after.v == ",")) then
    self.i = save
    return nil
  end
  if ty.name == "var" and not ty.args and ty.rank == 0 then ty = nil end
  local decls = {}
  repeat
    local name = self:ident()
    local init
    if self:accept("=") then
      if self:op("{") then
        if not (ty and ty.rank > 0) then
          fail(self:peek().p, "C# syntax error: array initializer without an array type")
        end
        init = self:array_init(ty, self:peek().p)
      else
        init = self:expr()
      end
    end
    decls[#decls + 1] = { name = name.v, init = init, p = name.p }
  until not self:accept(",")
  return { k = "decl", type = ty, decls = decls, p = decls[1].p }
end

-- `Type Name(params) { body }` or `=> expr;`
function P:try_local_function()
  local save = self.i
  local static = self:accept_kw("static")
  local ty = self:try_type()
  if not ty then self.i = save; return nil end
  local nt = self:peek()
  if nt.t ~= "id" or not self:op("(", 1) then self.i = save; return nil end
  -- scan to the matching ')' and look for '{' or '=>'
  local depth, j = 0, self.i + 1
  while true do
    local tk = self.toks[j]
    if tk.t == "eof" then self.i = save; return nil end
    if tk.t == "op" then
      if tk.v == "(" then depth = depth + 1
      elseif tk.v == ")" then depth = depth - 1; if depth == 0 then break end end
    end
    j = j + 1
  end
  local after = self.toks[j + 1]
  if not (after.t == "op" and (after.v == "{" or after.v == "=>")) then self.i = save; return nil end
  local _ = static
  self:advance() -- name
  local params = self:param_list()
  local body
  if self:accept("=>") then
    local e = self:expr()
    self:expect(";")
    body = { k = "block", body = { { k = "return", e = e, p = e.p } }, p = e.p }
  else
    body = self:block()
  end
  return { k = "localfn", name = nt.v, params = params, body = body, ret = ty, p = nt.p }
end

function P:param_list()
  self:expect("(")
  local params = {}
  if not self:op(")") then
    repeat
      local mod = self:peek()
      if mod.t == "id" and (mod.v == "out" or mod.v == "ref" or mod.v == "params" or mod.v == "in")
        and self:peek(1).t == "id" then
        unsupported(mod.p, mod.v .. " parameter", "only plain parameters are supported")
      end
      local ty = self:try_type()
      local name
      if ty and self:peek().t == "id" then name = self:ident()
      elseif ty and not ty.args and ty.rank == 0 then name = { v = ty.dotted, p = ty.p }; ty = nil
      else fail(self:peek().p, "C# syntax error: expected a parameter") end
      if self:op("=") then unsupported(self:peek().p, "default parameter value", "not supported") end
      params[#params + 1] = { name = name.v, type = ty, p = name.p }
    until not self:accept(",")
  end
  self:expect(")")
  return params
end

function P:if_stmt()
  local p = self:advance().p
  self:expect("(")
  local c = self:expr()
  self:expect(")")
  local body = self:embedded()
  local els
  if self:accept_kw("else") then
    if self:kw("if") then
      local inner = self:if_stmt()
      els = { k = "block", body = { inner }, p = inner.p, elseif_ = true }
    else
      els = self:embedded()
    end
  end
  return { k = "if", cond = c, body = body, els = els, p = p }
end

function P:foreach_stmt()
  local p = self:advance().p
  self:expect("(")
  local ty = self:try_type()
  if not ty then fail(self:peek().p, "C# syntax error: expected a type in foreach") end
  if self:op("(") then unsupported(self:peek().p, "foreach deconstruction", "not supported") end
  local name = self:ident()
  if not self:accept_kw("in") then self:expect("in") end
  local coll = self:expr()
  self:expect(")")
  if ty.name == "var" then ty = nil end
  return { k = "foreach", name = name.v, type = ty, coll = coll, body = self:embedded(), p = p }
end

function P:for_stmt()
  local p = self:advance().p
  self:expect("(")
  local init = {}
  if not self:op(";") then
    local d = self:try_declaration()
    if d then init[1] = d
    else
      repeat
        local e = self:expr()
        init[#init + 1] = { k = "expr", e = e, p = e.p }
      until not self:accept(",")
    end
  end
  self:expect(";")
  local cond
  if not self:op(";") then cond = self:expr() end
  self:expect(";")
  local iter = {}
  if not self:op(")") then
    repeat
      local e = self:expr()
      iter[#iter + 1] = { k = "expr", e = e, p = e.p }
    until not self:accept(",")
  end
  self:expect(")")
  return { k = "for", init = init, cond = cond, iter = iter, body = self:embedded(), p = p }
end

function P:try_stmt()
  local p = self:advance().p
  local body = self:block()
  local catches, finally = {}, nil
  while self:kw("catch") do
    local cp = self:advance().p
    local c = { p = cp }
    if self:accept("(") then
      local ty = self:try_type()
      if not ty then fail(self:peek().p, "C# syntax error: expected an exception type") end
      c.type = ty
      if self:peek().t == "id" then c.name = self:advance().v end
      self:expect(")")
    end
    if self:kw("when") then unsupported(self:peek().p, "catch when", "exception filters are not supported") end
    c.body = self:block()
    catches[#catches + 1] = c
  end
  if self:accept_kw("finally") then finally = self:block() end
  if #catches == 0 and not finally then
    fail(p, "C# syntax error: try needs a catch or a finally")
  end
  return { k = "try", body = body, catches = catches, finally = finally, p = p }
end

function P:switch_stmt()
  local p = self:advance().p
  self:expect("(")
  local subject = self:expr()
  self:expect(")")
  self:expect("{")
  local sections = {}
  while not self:op("}") do
    local sec = { labels = {}, body = {}, p = self:peek().p }
    while self:kw("case") or self:kw("default") do
      local lt = self:advance()
      if lt.v == "default" then
        sec.default = true
      else
        local e = self:expr()
        if self:kw("when") then unsupported(self:peek().p, "case when", "case guards are not supported") end
        sec.labels[#sec.labels + 1] = e
      end
      self:expect(":")
    end
    if #sec.labels == 0 and not sec.default then
      fail(self:peek().p, "C# syntax error: expected 'case' or 'default'")
    end
    while not (self:kw("case") or self:kw("default") or self:op("}")) do
      if self:peek().t == "eof" then self:expect("}") end
      sec.body[#sec.body + 1] = self:statement()
    end
    sections[#sections + 1] = sec
  end
  self:expect("}")
  return { k = "switch", subject = subject, sections = sections, p = p }
end

-- expressions ---------------------------------------------------------------

local ASSIGN = { ["="] = true, ["+="] = "+", ["-="] = "-", ["*="] = "*", ["/="] = "/",
  ["%="] = "%", ["&="] = "&", ["|="] = "|", ["^="] = "^", ["??="] = "??", ["<<="] = "<<",
  [">>="] = ">>" }

function P:expr()
  local lam = self:try_lambda()
  if lam then return lam end
  local lhs = self:conditional()
  local t = self:peek()
  if t.t == "op" and ASSIGN[t.v] then
    self:advance()
    local rhs = self:expr()
    return { k = "assign", op = t.v, target = lhs, value = rhs, p = t.p }
  end
  return lhs
end

-- x => e | (x, y) => e | (T x) => e | () => e
function P:try_lambda()
  local t = self:peek()
  if t.t == "id" and self:op("=>", 1) then
    self:advance(); self:advance()
    return self:lambda_body({ { name = t.v, p = t.p } }, t.p)
  end
  if t.t == "op" and t.v == "(" then
    local depth, j = 0, self.i
    while true do
      local tk = self.toks[j]
      if tk.t == "eof" then return nil end
      if tk.t == "op" then
        if tk.v == "(" then depth = depth + 1
        elseif tk.v == ")" then depth = depth - 1; if depth == 0 then break end end
      end
      j = j + 1
    end
    local after = self.toks[j + 1]
    if after.t == "op" and after.v == "=>" then
      local params = self:param_list()
      self:expect("=>")
      return self:lambda_body(params, t.p)
    end
  end
  if t.t == "id" and (t.v == "async" or t.v == "delegate") and not t.verbatim
    and (self:op("(", 1) or self:op("{", 1) or self:peek(1).t == "id") then
    unsupported(t.p, t.v, "anonymous methods and async lambdas are not supported")
  end
  return nil
end

function P:lambda_body(params, p)
  local body
  if self:op("{") then body = self:block()
  else
    local e = self:expr()
    body = { k = "block", body = { { k = "return", e = e, p = e.p } }, p = e.p }
  end
  return { k = "lambda", params = params, body = body, p = p }
end

function P:conditional()
  local c = self:coalesce()
  if self:op("?") then
    local q = self:advance()
    local a = self:expr()
    self:expect(":")
    local b = self:expr()
    return { k = "cond", c = c, a = a, b = b, p = q.p }
  end
  return c
end

function P:coalesce()
  local a = self:binary(1)
  if self:op("??") then
    local t = self:advance()
    local b = self:coalesce()
    return { k = "coalesce", a = a, b = b, p = t.p }
  end
  return a
end

local LEVELS = {
  { ["||"] = true }, { ["&&"] = true }, { ["|"] = true }, { ["^"] = true }, { ["&"] = true },
  { ["=="] = true, ["!="] = true }, { ["<"] = true, [">"] = true, ["<="] = true, [">="] = true },
  { ["<<"] = true, [">>"] = true }, { ["+"] = true, ["-"] = true },
  { ["*"] = true, ["/"] = true, ["%"] = true },
}
local REL_LEVEL = 7
local SHIFT_LEVEL = 8

-- '>' '>' written next to each other is a right shift (the lexer keeps them apart for generics)
function P:peek_binop(level)
  local t = self:peek()
  if t.t ~= "op" then
    if level == REL_LEVEL and t.t == "id" and not t.verbatim and (t.v == "is" or t.v == "as") then
      return t.v, 1
    end
    return nil
  end
  if level == SHIFT_LEVEL and t.v == ">" and self:op(">", 1) and self:peek(1).p == t.p + 1 then
    return ">>", 2
  end
  if level == REL_LEVEL and t.v == ">" and self:op(">", 1) and self:peek(1).p == t.p + 1 then
    return nil
  end
  if LEVELS[level][t.v] then return t.v, 1 end
  return nil
end

function P:binary(level)
  if level > #LEVELS then return self:unary() end
  local a = self:binary(level + 1)
  while true do
    local op, n = self:peek_binop(level)
    if not op then return a end
    local t = self:peek()
    for _ = 1, n do self:advance() end
    if op == "is" then a = self:is_pattern(a, t.p)
    elseif op == "as" then
      local ty = self:try_type()
      if not ty then fail(self:peek().p, "C# syntax error: expected a type after 'as'") end
      a = { k = "as", e = a, type = ty, p = t.p }
    else
      local b = self:binary(level + 1)
      a = { k = "bin", op = op, a = a, b = b, p = t.p }
    end
  end
end

function P:is_pattern(e, p)
  local negate = false
  if self:kw("not") then self:advance(); negate = true end
  local t = self:peek()
  local node
  if t.t == "id" and t.v == "null" and not t.verbatim then
    self:advance()
    node = { k = "isnull", e = e, p = p }
  elseif t.t == "str" or t.t == "num" or t.t == "chr" or (t.t == "id" and (t.v == "true" or t.v == "false")) then
    local c = self:unary()
    node = { k = "bin", op = "==", a = e, b = c, p = p }
  elseif t.t == "op" and (t.v == "{" or t.v == "(" or t.v == "[" or t.v == "<" or t.v == ">") then
    unsupported(t.p, "is " .. t.v, "only type, null and constant patterns are supported")
  else
    local ty = self:try_type()
    if not ty then fail(t.p, "C# syntax error: expected a type or pattern after 'is'") end
    node = { k = "is", e = e, type = ty, p = p }
    local nt = self:peek()
    if nt.t == "id" and not RESERVED[nt.v] and nt.v ~= "and" and nt.v ~= "or" then
      node.bind = self:advance().v
      node.bind_p = nt.p
    end
  end
  if self:kw("and") or self:kw("or") then
    unsupported(self:peek().p, "is ... " .. self:peek().v, "pattern combinators are not supported")
  end
  if negate then
    if node.bind then unsupported(p, "is not T x", "not supported") end
    node = { k = "un", op = "!", e = node, p = p }
  end
  return node
end

local CAST_FOLLOW_KW = { ["new"] = true, ["true"] = true, ["false"] = true, ["null"] = true,
  ["this"] = true, ["typeof"] = true, ["default"] = true, ["checked"] = true, ["unchecked"] = true,
  ["base"] = true, ["sizeof"] = true }

-- `(T)x`: a cast when T is a type and what follows can only start an operand
function P:try_cast()
  local save = self.i
  local open = self:advance()
  local ty = self:try_type()
  if ty and self:op(")") then
    local nx = self:peek(1)
    local keyword_type = KEYWORD_TYPES[ty.dotted] or ALIAS[ty.dotted] ~= nil
    local ok
    if nx.t == "id" then
      ok = not (nx.v == "is" or nx.v == "as") or nx.verbatim or CAST_FOLLOW_KW[nx.v]
      if RESERVED[nx.v] and not CAST_FOLLOW_KW[nx.v] and not nx.verbatim then ok = false end
    elseif nx.t == "str" or nx.t == "num" or nx.t == "chr" or nx.t == "istr" then ok = true
    elseif nx.t == "op" then
      if nx.v == "(" or nx.v == "!" or nx.v == "~" then ok = true
      elseif (nx.v == "-" or nx.v == "+") and (keyword_type or ty.nullable) then ok = true end
    end
    if ok then
      self:advance() -- ')'
      local e = self:unary()
      return { k = "cast", type = ty, e = e, p = open.p }
    end
  end
  self.i = save
  return nil
end

function P:unary()
  local t = self:peek()
  if t.t == "op" then
    local v = t.v
    if v == "-" or v == "+" or v == "!" or v == "~" then
      self:advance()
      local e = self:unary()
      if v == "-" and e.k == "num" then
        return { k = "num", v = -e.v, int = e.int, p = t.p }
      end
      return { k = "un", op = v, e = e, p = t.p }
    end
    if v == "++" or v == "--" then
      self:advance()
      local e = self:unary()
      return { k = "incdec", op = v, prefix = true, e = e, p = t.p }
    end
    if v == "(" then
      local c = self:try_cast()
      if c then return c end
    end
    if v == "&" or v == "*" then unsupported(t.p, v, "pointers are not supported") end
  elseif t.t == "id" and t.v == "await" and not t.verbatim then
    unsupported(t.p, "await", "async code is not supported")
  end
  return self:postfix(self:primary())
end

function P:args(close)
  local args = {}
  if self:accept(close) then return args end
  repeat
    local a = { p = self:peek().p }
    local t = self:peek()
    if t.t == "id" and self:op(":", 1) and not t.verbatim or (t.t == "id" and t.verbatim and self:op(":", 1)) then
      a.name = t.v
      self:advance(); self:advance()
    end
    t = self:peek()
    if t.t == "id" and (t.v == "out" or t.v == "ref" or t.v == "in") and not t.verbatim
      and (self:peek(1).t == "id") then
      self:advance()
      if t.v ~= "out" then unsupported(t.p, t.v .. " argument", "only out arguments are supported") end
      local ty = self:try_type()
      local nt = self:peek()
      if ty and nt.t == "id" then
        self:advance()
        a.out = { decl = true, type = (ty.name ~= "var") and ty or nil, name = nt.v, p = nt.p }
      elseif ty and not ty.args and ty.rank == 0 then
        a.out = { name = ty.dotted, p = ty.p, discard = ty.dotted == "_" }
        if find(ty.dotted, ".", 1, true) then unsupported(ty.p, "out " .. ty.dotted, "out arguments must be local variables") end
      else
        fail(t.p, "C# syntax error: bad out argument")
      end
    else
      a.e = self:expr()
    end
    args[#args + 1] = a
  until not self:accept(",")
  self:expect(close)
  return args
end

-- `<T,...>` right before '(' is a generic method's argument list
function P:try_typeargs_call()
  if not self:op("<") then return nil end
  local save = self.i
  self:advance()
  local list = {}
  repeat
    local ty = self:try_type()
    if not ty then self.i = save; return nil end
    list[#list + 1] = ty
  until not self:accept(",")
  if self:accept(">") and self:op("(") then return list end
  self.i = save
  return nil
end

function P:postfix(e)
  while true do
    local t = self:peek()
    if t.t == "id" and t.v == "switch" and self:op("{", 1) then
      unsupported(t.p, "switch { ... }", "switch expressions are not supported; use if/else or ?:")
    end
    if t.t ~= "op" then return e end
    local v = t.v
    if v == "." or v == "?." then
      self:advance()
      local name = self:ident()
      local targs = self:try_typeargs_call()
      e = { k = "member", obj = e, name = name.v, nc = v == "?.", targs = targs, p = name.p }
    elseif v == "(" then
      self:advance()
      local args = self:args(")")
      if e.k == "member" or e.k == "name" then
        e = { k = "call", fn = e, args = args, p = e.p }
      else
        e = { k = "invoke", fn = e, args = args, p = t.p }
      end
    elseif v == "[" then
      self:advance()
      if self:op("]") then fail(self:peek().p, "C# syntax error: an indexer needs an argument") end
      local args = self:args("]")
      e = { k = "index", obj = e, args = args, p = t.p }
    elseif v == "?" and self:op("[", 1) and self:peek(1).p == t.p + 1 then
      self:advance(); self:advance()
      if self:op("]") then fail(self:peek().p, "C# syntax error: an indexer needs an argument") end
      local args = self:args("]")
      e = { k = "index", obj = e, args = args, nc = true, p = t.p }
    elseif v == "++" or v == "--" then
      self:advance()
      e = { k = "incdec", op = v, prefix = false, e = e, p = t.p }
    elseif v == "!" then
      -- the null-forgiving operator changes nothing at run time
      local nx = self:peek(1)
      if nx.t == "op" and (nx.v == "." or nx.v == "[" or nx.v == ")" or nx.v == ";" or nx.v == ",") then
        self:advance()
      else
        return e
      end
    elseif v == "->" then
      unsupported(t.p, "->", "pointers are not supported")
    elseif v == "with" then
      unsupported(t.p, "with", "with expressions are not supported")
    else
      return e
    end
  end
end

function P:array_init(elemtype, p)
  self:expect("{")
  local items = {}
  while not self:op("}") do
    if self:op("{") then
      local inner = self:array_init(nil, self:peek().p)
      items[#items + 1] = inner
    else
      items[#items + 1] = self:expr()
    end
    if not self:accept(",") then break end
  end
  self:expect("}")
  return { k = "newarray", type = elemtype, items = items, p = p }
end

-- object and collection initializers after `new T(...)`
function P:initializer()
  self:expect("{")
  local inits = {}
  while not self:op("}") do
    local t = self:peek()
    if t.t == "id" and self:op("=", 1) then
      self:advance(); self:advance()
      local value
      if self:op("{") then unsupported(self:peek().p, "nested initializer", "not supported")
      else value = self:expr() end
      inits[#inits + 1] = { kind = "set", name = t.v, value = value, p = t.p }
    elseif t.t == "op" and t.v == "[" then
      self:advance()
      local key = self:expr()
      self:expect("]")
      self:expect("=")
      inits[#inits + 1] = { kind = "index", key = key, value = self:expr(), p = t.p }
    elseif t.t == "op" and t.v == "{" then
      self:advance()
      local list = {}
      repeat list[#list + 1] = self:expr() until not self:accept(",")
      self:expect("}")
      inits[#inits + 1] = { kind = "add", args = list, p = t.p }
    else
      inits[#inits + 1] = { kind = "add", args = { self:expr() }, p = t.p }
    end
    if not self:accept(",") then break end
  end
  self:expect("}")
  return inits
end

function P:new_expr(p)
  if self:op("[") then
    -- new[] { ... }
    self:advance(); self:expect("]")
    return self:array_init(nil, p)
  end
  if self:op("{") then unsupported(p, "new { ... }", "anonymous types are not supported") end
  if self:op("(") then unsupported(p, "new()", "target-typed new is not supported") end
  local save = self.i
  local t0 = self:peek()
  if t0.t ~= "id" then fail(t0.p, "C# syntax error: expected a type after 'new'") end
  -- the element type of `new T[n]` / `new T[] {..}` stops before '['
  local ty = self:try_type()
  if not ty then fail(t0.p, "C# syntax error: expected a type after 'new'") end
  if ty.rank > 0 then
    -- new T[] { ... }
    local elem = { k = "type", name = ty.name, dotted = ty.dotted, args = ty.args, rank = ty.rank - 1, p = ty.p }
    if not self:op("{") then fail(self:peek().p, "C# syntax error: expected an array initializer") end
    return self:array_init(elem, p)
  end
  if self:op("[") then
    self:advance()
    local size = self:expr()
    if self:op(",") then unsupported(self:peek().p, "multi-dimensional array", "not supported") end
    self:expect("]")
    local rank = 0
    while self:op("[") do self:advance(); self:expect("]"); rank = rank + 1 end
    if self:op("{") then unsupported(self:peek().p, "sized array initializer", "not supported") end
    return { k = "newsized", type = ty, size = size, rank = rank, p = p }
  end
  local _ = save
  local args = {}
  if self:op("(") then
    self:advance()
    args = self:args(")")
  elseif not self:op("{") then
    fail(self:peek().p, "C# syntax error: expected '(' after 'new " .. ty.dotted .. "'")
  end
  local init
  if self:op("{") then init = self:initializer() end
  return { k = "new", type = ty, args = args, init = init, p = p }
end

local PRIMARY_UNSUPPORTED = {
  this = "'this' is not available in expressions", base = "'base' is not available in expressions",
  stackalloc = "unsafe code is not supported", sizeof = "sizeof is not supported",
  typeof = "reflection is not supported", await = "async code is not supported",
  switch = "switch expressions are not supported",
}

function P:primary()
  local t = self:advance()
  local tt = t.t
  if tt == "num" then return { k = "num", v = t.v, int = t.int, p = t.p } end
  if tt == "str" then return { k = "str", v = t.v, p = t.p } end
  if tt == "chr" then return { k = "chr", v = t.v, p = t.p } end
  if tt == "istr" then
    local parts = {}
    for i, part in ipairs(t.v) do
      if type(part) == "string" then parts[i] = part
      else
        local sub_p = parser(part.toks, self.src)
        local e = sub_p:expr()
        if sub_p:peek().t ~= "eof" then
          fail(sub_p:peek().p, "C# syntax error: unexpected " .. tok_text(sub_p:peek()) .. " in interpolation hole")
        end
        local align
        if part.align then
          local ap = parser(part.align, self.src)
          align = ap:expr()
        end
        parts[i] = { e = e, fmt = part.fmt, align = align, p = part.p }
      end
    end
    return { k = "istr", parts = parts, p = t.p }
  end
  if tt == "op" then
    if t.v == "(" then
      local e = self:expr()
      if self:op(",") then unsupported(t.p, "(a, b)", "tuples are not supported") end
      self:expect(")")
      return { k = "paren", e = e, p = t.p }
    end
    if t.v == "[" then unsupported(t.p, "[...]", "collection expressions are not supported") end
    fail(t.p, "C# syntax error: unexpected " .. tok_text(t))
  end
  if tt == "eof" then fail(t.p, "C# syntax error: unexpected end of expression") end
  local v = t.v
  if not t.verbatim then
    if v == "true" or v == "false" then return { k = "bool", v = v == "true", p = t.p } end
    if v == "null" then return { k = "null", p = t.p } end
    if v == "new" then return self:new_expr(t.p) end
    if v == "default" then
      if self:accept("(") then
        local ty = self:try_type()
        if not ty then fail(self:peek().p, "C# syntax error: expected a type") end
        self:expect(")")
        return { k = "default", type = ty, p = t.p }
      end
      return { k = "null", p = t.p }
    end
    if (v == "checked" or v == "unchecked") and self:op("(") then
      self:advance()
      local e = self:expr()
      self:expect(")")
      return { k = "paren", e = e, p = t.p }
    end
    if v == "nameof" and self:op("(") then
      self:advance()
      local e = self:expr()
      self:expect(")")
      local name = e.k == "member" and e.name or e.k == "name" and e.v
      if not name then fail(e.p, "C# syntax error: bad nameof argument") end
      return { k = "str", v = name, p = t.p }
    end
    if PRIMARY_UNSUPPORTED[v] then
      if v ~= "switch" then unsupported(t.p, v, PRIMARY_UNSUPPORTED[v]) end
    end
    if RESERVED[v] and not KEYWORD_TYPES[v] then
      fail(t.p, "C# syntax error: unexpected keyword '" .. v .. "'")
    end
  end
  if self:op("switch") or self:kw("switch") then
    unsupported(self:peek().p, "switch", "switch expressions are not supported")
  end
  local targs = self:try_typeargs_call()
  return { k = "name", v = v, targs = targs, p = t.p }
end

M.parser, M.tok_text = parser, tok_text

return M
