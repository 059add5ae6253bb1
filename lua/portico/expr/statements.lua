-- expr/statements.lua - the statements of the expression translator's code generator
-- (the generator G and the expressions are codegen.lua's).
--
-- Owns: statement lists (local functions hoisted with the block's variables),
-- declarations, return (plain, or a code from inside a try body), expression
-- statements, assignments (locals, rt.set, rt.setindex; compound and ??=), if/else
-- chains (conditions that declare get their own lines), while, do-while, for,
-- foreach (rt.each), break/continue (a goto label only when used), throw, switch on
-- constants (a one-pass repeat loop) and try/catch/finally (rt.try with the bodies as
-- functions; return/break/continue travel back as codes 1/2/3).
--
-- Does not own: expressions and the generator's state (codegen.lua), the checks
-- (checks.lua).

local format, sub = string.format, string.sub
local concat, insert = table.concat, table.insert
local ipairs = ipairs

local rt = require "portico.csharp"
local errors = require "portico.expr.errors"
local types = require "portico.expr.types"
local checks = require "portico.expr.checks"
local codegen = require "portico.expr.codegen"
local fail, unsupported = errors.fail, errors.unsupported
local NUMERIC, INTEGRAL = types.NUMERIC, types.INTEGRAL
local check_prop, check_type_known = checks.check_prop, checks.check_type_known
local G, lua_string, wrap, static_of, simple =
  codegen.G, codegen.lua_string, codegen.wrap, codegen.static_of, codegen.simple

------------------------------------------------------------------------------
-- statements

function G:flush_pre()
  for _, s in ipairs(self.pre) do self:line(s) end
  self.pre = {}
end

-- evaluate an expression for use in the statement about to be written
function G:sexpr(node, need)
  local r = self:expr(node)
  return wrap(r.code, r.prec, need or 0), r
end

function G:stmts(list)
  -- C# local functions may be called before the line that declares them and see the
  -- block's variables: in a block that has them, every variable of the block is
  -- declared first, the functions are defined next, and declarations become assignments
  local fns, names = {}, {}
  for _, s in ipairs(list) do
    if s.k == "localfn" then fns[#fns + 1] = s end
  end
  if #fns > 0 then
    for _, s in ipairs(fns) do
      local v = self:declare(s.name, s.p, static_of(s.ret), "func")
      v.ret = static_of(s.ret)
      names[#names + 1] = v.lua
    end
    for _, s in ipairs(list) do
      if s.k == "decl" then
        s.predeclared = true
        for _, d in ipairs(s.decls) do
          names[#names + 1] = self:declare(d.name, d.p, static_of(s.type)).lua
        end
      end
    end
    self:line("local " .. concat(names, ", "))
    for _, s in ipairs(fns) do self.last = false; self:stmt(s) end
  end
  local rest = {}
  for _, s in ipairs(list) do
    if s.k ~= "localfn" then rest[#rest + 1] = s end
  end
  for i, s in ipairs(rest) do
    self.last = (i == #rest)
    self:stmt(s)
  end
end

function G:stmt(s)
  local saved = self.pre
  self.pre = {}
  local last = self.last
  local f = self["s_" .. s.k]
  if not f then fail(s.p, "internal: no generator for statement " .. s.k) end
  f(self, s, last)
  self.pre = saved
end

function G:s_empty() end

function G:s_block(s)
  self:line("do")
  self.depth = self.depth + 1
  self:push_scope()
  self:stmts(s.body)
  self:pop_scope()
  self.depth = self.depth - 1
  self:line("end")
end

-- a nested block whose statements are written inside an already open Lua block
function G:inner(block)
  self.depth = self.depth + 1
  self:push_scope()
  self:stmts(block.body)
  self:pop_scope()
  self.depth = self.depth - 1
end

function G:s_decl(s)
  if s.type and s.type.name ~= "var" then check_type_known(s.type) end
  local st2 = s.type and s.type.rank == 0 and not s.type.nullable and s.type.name
  local default = (st2 == "bool" and "false") or (NUMERIC[st2] and (INTEGRAL[st2] and "0" or "0.0")) or nil
  for _, d in ipairs(s.decls) do
    local code, r
    if d.init then code, r = self:sexpr(d.init) end
    self:flush_pre()
    code = code or default
    if s.predeclared then
      -- declared at the top of the block (it has local functions)
      if code then self:line(self.scope.vars[d.name].lua .. " = " .. code) end
    else
      local st = static_of(s.type) or (not s.type and r and r.type) or nil
      local v = self:declare(d.name, d.p, st)
      self:line("local " .. v.lua .. (code and (" = " .. code) or ""))
    end
  end
end

function G:s_localfn(s)
  local v = self:lookup(s.name)
  local saved_fn, saved_pre = self.fn, self.pre
  self.fn = { kind = "localfn", loops = 0 }
  self:push_scope()
  local params = {}
  for i, prm in ipairs(s.params) do
    if prm.type then check_type_known(prm.type) end
    params[i] = self:declare(prm.name, prm.p, static_of(prm.type)).lua
  end
  self:line(v.lua .. " = function(" .. concat(params, ", ") .. ")")
  self.depth = self.depth + 1
  self:stmts(s.body.body)
  self.depth = self.depth - 1
  self:line("end")
  self:pop_scope()
  self.fn, self.pre = saved_fn, saved_pre
end

-- how `return` is written where we are: plain, or a (code, value) pair from inside a
-- try body (a Lua function run by rt.try)
function G:emit_return(code, last)
  local words = "return" .. (code and (" " .. code) or "")
  if self.fn.kind == "try" then
    self.fn.used_return = true
    words = "return 1" .. (code and (", " .. code) or "")
  end
  if last then self:line(words) else self:line("do " .. words .. " end") end
end

function G:s_return(s, last)
  if self.fn.kind == "top" and self.kind == "block" and not s.e then
    fail(s.p, "C# error: an expression block must return a value")
  end
  local code
  if s.e then code = self:sexpr(s.e) end
  self:flush_pre()
  self:emit_return(code, last)
end

function G:s_expr(s)
  local e = s.e
  if e.k == "assign" then return self:assign(e) end
  if e.k == "incdec" then
    local step = { k = "num", v = 1, int = true, p = e.p }
    return self:assign({ k = "assign", op = e.op == "++" and "+=" or "-=", target = e.e, value = step, p = e.p })
  end
  local code = self:sexpr(e)
  self:flush_pre()
  if e.k == "new" then
    self:line("local _ = " .. code)
  elseif code:sub(1, 1) == "(" then
    -- a line starting with '(' would continue the previous statement as a call
    self:line(";" .. code)
  else
    self:line(code)
  end
end

local COMPOUND = { ["+="] = "+", ["-="] = "-", ["*="] = "*", ["/="] = "/", ["%="] = "%",
  ["&="] = "&", ["|="] = "|", ["^="] = "^", ["<<="] = "<<", [">>="] = ">>" }

function G:assign(e)
  local target = e.target
  while target.k == "paren" do target = target.e end
  local value = e.value
  if e.op ~= "=" then
    if e.op == "??=" then
      value = { k = "coalesce", a = target, b = e.value, p = e.p }
    else
      value = { k = "bin", op = COMPOUND[e.op], a = target, b = e.value, p = e.p }
    end
  end
  if target.k == "name" then
    local v = self:lookup(target.v)
    if not v then
      if target.v == "context" then fail(target.p, "C# error: cannot assign to 'context'") end
      fail(target.p, format("unknown name '%s'", target.v))
    end
    if v.kind ~= "local" then fail(target.p, "C# error: cannot assign to '" .. target.v .. "'") end
    local code = self:sexpr(value)
    self:flush_pre()
    self:line(v.lua .. " = " .. code)
  elseif target.k == "member" then
    if self:static_type(target.obj) then
      unsupported(target.p, "static assignment", "static members cannot be assigned")
    end
    check_prop(target.name, target.p)
    if e.op ~= "=" and not simple(target.obj) then
      unsupported(target.p, e.op, "compound assignment to a member of a complex expression is not supported")
    end
    local obj = self:sexpr(target.obj)
    local code = self:sexpr(value)
    self:flush_pre()
    self:line(format("rt.set(%s, %s, %s)", obj, lua_string(target.name), code))
  elseif target.k == "index" then
    if #target.args ~= 1 or target.args[1].out or target.args[1].name then
      fail(target.p, "C# syntax error: bad indexer assignment")
    end
    if e.op ~= "=" and not (simple(target.obj) and simple(target.args[1].e)) then
      unsupported(target.p, e.op, "compound assignment to an element of a complex expression is not supported")
    end
    local obj = self:sexpr(target.obj)
    local key = self:sexpr(target.args[1].e)
    local code = self:sexpr(value)
    self:flush_pre()
    self:line(format("rt.setindex(%s, %s, %s)", obj, key, code))
  else
    fail(target.p, "C# error: the left-hand side of an assignment must be a variable, property or indexer")
  end
end

function G:s_if(s, last)
  local cond = self:sexpr(s.cond)
  self:flush_pre()
  self:line("if " .. cond .. " then")
  self:inner(s.body)
  local els = s.els
  while els do
    if els.elseif_ then
      local inner = els.body[1]
      -- conditions that declare (out var, is T x) need their own statements first
      local saved_out = self.out
      self.out = {}
      local c = self:sexpr(inner.cond)
      local pre = self.pre
      self.out = saved_out
      if #pre > 0 then
        self.pre = {}
        self:line("else")
        self.depth = self.depth + 1
        for _, l in ipairs(pre) do self:line(l) end
        self:line("if " .. c .. " then")
        self:inner(inner.body)
        if inner.els then
          self:line("else")
          self:inner(inner.els)
        end
        self:line("end")
        self.depth = self.depth - 1
        break
      end
      self:line("elseif " .. c .. " then")
      self:inner(inner.body)
      els = inner.els
    else
      self:line("else")
      self:inner(els)
      els = nil
    end
  end
  self:line("end")
  local _ = last
end

-- loops: `continue` jumps to a label at the end of the body
function G:loop_body(body, label)
  local saved = self.fn.continue_label
  local saved_used = self.fn.continue_used
  self.fn.continue_label, self.fn.continue_used = label, false
  self.fn.loops = self.fn.loops + 1
  self.loop_stack = self.loop_stack or {}
  insert(self.loop_stack, { kind = "loop", label = label })
  local used
  if body then
    self:line("do")
    self:inner(body)
    self:line("end")
  end
  used = self.fn.continue_used
  table.remove(self.loop_stack)
  self.fn.loops = self.fn.loops - 1
  self.fn.continue_label, self.fn.continue_used = saved, saved_used
  return used
end

function G:label()
  self.tmp = self.tmp + 1
  return "continue" .. self.tmp
end

-- write a loop body; `continue` labels only when used (the body is re-emitted into
-- a buffer so the label line can be decided afterwards)
function G:body_with_continue(body, label)
  local saved_out = self.out
  self.out = {}
  local used = self:loop_body(body, label)
  local lines = self.out
  self.out = saved_out
  if used then
    for _, l in ipairs(lines) do self.out[#self.out + 1] = l end
    self:line("::" .. label .. "::")
  else
    -- drop the `do`/`end` wrapper: the body is the loop's own block
    for i = 2, #lines - 1 do self.out[#self.out + 1] = sub(lines[i], 3) end
  end
end

function G:s_while(s)
  local cond = self:sexpr(s.cond)
  self:flush_pre()
  self:line("while " .. cond .. " do")
  self.depth = self.depth + 1
  self:body_with_continue(s.body, self:label())
  self.depth = self.depth - 1
  self:line("end")
end

function G:s_dowhile(s)
  self:line("repeat")
  self.depth = self.depth + 1
  local label = self:label()
  local saved_out = self.out
  self.out = {}
  local used = self:loop_body(s.body, label)
  local lines = self.out
  self.out = saved_out
  for _, l in ipairs(lines) do self.out[#self.out + 1] = l end
  if used then self:line("::" .. label .. "::") end
  local cond = self:sexpr(s.cond, 12)
  if #self.pre > 0 then unsupported(s.cond.p, "out", "declarations in a do-while condition are not supported") end
  self.depth = self.depth - 1
  self:line("until not " .. cond)
end

function G:s_for(s)
  self:line("do")
  self.depth = self.depth + 1
  self:push_scope()
  for _, st in ipairs(s.init) do self:stmt(st) end
  local cond = "true"
  if s.cond then cond = self:sexpr(s.cond); self:flush_pre() end
  self:line("while " .. cond .. " do")
  self.depth = self.depth + 1
  local label = self:label()
  local saved_out = self.out
  self.out = {}
  local used = self:loop_body(s.body, label)
  local lines = self.out
  self.out = saved_out
  for _, l in ipairs(lines) do self.out[#self.out + 1] = l end
  if used then self:line("::" .. label .. "::") end
  for _, st in ipairs(s.iter) do self:stmt(st) end
  self.depth = self.depth - 1
  self:line("end")
  self:pop_scope()
  self.depth = self.depth - 1
  self:line("end")
end

function G:s_foreach(s)
  local coll = self:sexpr(s.coll)
  self:flush_pre()
  if s.type then check_type_known(s.type) end
  self:push_scope()
  local v = self:declare(s.name, s.p, static_of(s.type))
  self:line("for _, " .. v.lua .. " in rt.each(" .. coll .. ") do")
  self.depth = self.depth + 1
  self:body_with_continue(s.body, self:label())
  self.depth = self.depth - 1
  self:line("end")
  self:pop_scope()
end

function G:jump(s, kind)
  local stack = self.loop_stack or {}
  local top = stack[#stack]
  if self.fn.loops == 0 then
    if self.fn.kind == "try" and self.fn.outer_loop then
      self.fn["used_" .. kind] = true
      self:line(kind == "break" and "do return 2 end" or "do return 3 end")
      return
    end
    fail(s.p, "C# error: no enclosing loop out of which to " .. kind)
  end
  if kind == "break" then
    self:line("break")
    return
  end
  -- continue: the innermost loop (a switch is not a loop for continue)
  for i = #stack, 1, -1 do
    if stack[i].kind == "loop" then
      self.fn.continue_used = true
      if stack[i] ~= top then
        -- mark the loop's own flag: it is the one that owns the label
        stack[i].used = true
      end
      self:line("goto " .. stack[i].label)
      return
    end
  end
  if self.fn.kind == "try" and self.fn.outer_loop then
    self.fn.used_continue = true
    self:line("do return 3 end")
    return
  end
  fail(s.p, "C# error: no enclosing loop out of which to continue")
end

function G:s_break(s) self:jump(s, "break") end
function G:s_continue(s) self:jump(s, "continue") end

function G:s_throw(s)
  if not s.e then
    local c = self.catch_var
    if not c then fail(s.p, "C# error: 'throw;' outside a catch clause") end
    self:line("rt.throw(" .. c .. ")")
    return
  end
  local code = self:sexpr(s.e)
  self:flush_pre()
  self:line("rt.throw(" .. code .. ")")
end

-- switch on constants: a one-pass repeat loop so that `break` leaves it
function G:s_switch(s)
  local subject = self:sexpr(s.subject)
  self:flush_pre()
  local sv = self:temp("sw")
  self:line("repeat")
  self.depth = self.depth + 1
  self:line("local " .. sv .. " = " .. subject)
  self.loop_stack = self.loop_stack or {}
  insert(self.loop_stack, { kind = "switch" })
  self.fn.loops = self.fn.loops + 1
  local default
  local first = true
  for _, sec in ipairs(s.sections) do
    if sec.default then default = sec end
    if #sec.labels > 0 then
      local conds = {}
      for _, lab in ipairs(sec.labels) do
        local lk = lab.k
        if not (lk == "str" or lk == "num" or lk == "chr" or lk == "bool" or lk == "null" or lk == "member") then
          unsupported(lab.p, "case pattern", "only constant case labels are supported")
        end
        conds[#conds + 1] = sv .. " == " .. self:code(lab, 4)
      end
      self:line((first and "if " or "elseif ") .. concat(conds, " or ") .. " then")
      first = false
      self:inner({ body = sec.body })
    end
  end
  if default then
    if first then
      self:line("do")
    else
      self:line("else")
    end
    self:inner({ body = default.body })
    first = false
  end
  if not first then self:line("end") end
  self.fn.loops = self.fn.loops - 1
  table.remove(self.loop_stack)
  self.depth = self.depth - 1
  self:line("until true")
end

-- try/catch/finally: the bodies become functions run by rt.try; `return` inside them
-- returns (1, value), `break` 2 and `continue` 3, which the code after rt.try replays.
function G:try_fn(block, params, catch_var)
  local saved_fn, saved_out, saved_depth = self.fn, self.out, self.depth
  local saved_stack, saved_catch = self.loop_stack, self.catch_var
  self.fn = { kind = "try", loops = 0, outer_loop = (saved_fn.loops > 0) or saved_fn.outer_loop }
  self.loop_stack = {}
  self.catch_var = catch_var or saved_catch
  self.out = {}
  self.depth = saved_depth + 1
  self:push_scope()
  local plist = {}
  for _, prm in ipairs(params) do
    if prm.name then plist[#plist + 1] = self:declare(prm.name, prm.p).lua
    else plist[#plist + 1] = prm.lua end
  end
  if catch_var and params[1] and params[1].name then self.catch_var = plist[1] end
  self:stmts(block.body)
  self:pop_scope()
  local lines, fninfo = self.out, self.fn
  self.fn, self.out, self.depth = saved_fn, saved_out, saved_depth
  self.loop_stack, self.catch_var = saved_stack, saved_catch
  return lines, fninfo, plist
end

function G:s_try(s)
  local r, v = self:temp("r"), self:temp("v")
  local parts = {}
  local used = {}
  local function collect(fninfo)
    if fninfo.used_return then used.ret = true end
    if fninfo.used_break then used.brk = true end
    if fninfo.used_continue then used.cont = true end
  end
  local body_lines, binfo = self:try_fn(s.body, {})
  collect(binfo)
  parts[#parts + 1] = { head = "function()", lines = body_lines }
  local catch_items = {}
  for _, c in ipairs(s.catches) do
    local tname = "Exception"
    if c.type then
      tname = c.type.name
      if not (tname == "Exception" or (rt.EXCEPTION_TYPES and rt.EXCEPTION_TYPES[tname])) then
        unsupported(c.type.p, "catch (" .. c.type.dotted .. ")", "exception type not in Portico's C# subset")
      end
    end
    local evar = self:temp("e")
    local params = { c.name and { name = c.name, p = c.p } or { lua = evar } }
    local lines, cinfo, plist = self:try_fn(c.body, params, evar)
    collect(cinfo)
    catch_items[#catch_items + 1] = { type = tname, lines = lines, param = plist[1] }
  end
  local fin_lines
  if s.finally then
    local lines, finfo = self:try_fn(s.finally, {})
    if finfo.used_return or finfo.used_break or finfo.used_continue then
      fail(s.finally.p, "C# error: control cannot leave the body of a finally clause")
    end
    fin_lines = lines
  end
  -- write: local r, v = rt.try(function() ... end, { {"T", function(e) ... end}, ... }, function() ... end)
  self:line(format("local %s, %s = rt.try(function()", r, v))
  for _, l in ipairs(body_lines) do self.out[#self.out + 1] = l end
  if #catch_items > 0 then
    self:line("end, {")
    for _, c in ipairs(catch_items) do
      self:line(format("  { %s, function(%s)", lua_string(c.type), c.param))
      for _, l in ipairs(c.lines) do self.out[#self.out + 1] = "  " .. l end
      self:line("  end },")
    end
    if fin_lines then
      self:line("}, function()")
      for _, l in ipairs(fin_lines) do self.out[#self.out + 1] = l end
      self:line("end)")
    else
      self:line("})")
    end
  else
    self:line("end, nil, function()")
    for _, l in ipairs(fin_lines or {}) do self.out[#self.out + 1] = l end
    self:line("end)")
  end
  if used.ret then
    self:line("if " .. r .. " == 1 then")
    self.depth = self.depth + 1
    self:emit_return(v, true)
    self.depth = self.depth - 1
    self:line("end")
  end
  if used.brk then
    self:line("if " .. r .. " == 2 then")
    self.depth = self.depth + 1
    self:jump(s, "break")
    self.depth = self.depth - 1
    self:line("end")
  end
  if used.cont then
    self:line("if " .. r .. " == 3 then")
    self.depth = self.depth + 1
    self:jump(s, "continue")
    self.depth = self.depth - 1
    self:line("end")
  end
end


return G
