-- compiler.lua - policy documents -> Lua closures, once per generation.
--
-- Owns: named value substitution (text, before reading), documents and their
-- sections, the module registry (built-in policies/<element>.lua, user modules
-- from policy_paths), the compile-site object `c` every policy's compile()
-- receives, fragments, Lua policy documents, and composing the scopes
-- global -> product -> API -> operation with <base/>.
--
-- Does not own: reading XML (reader.lua), translating C# (expr.lua), what an
-- element does (policies/*.lua), running a request (pipeline.lua).
--
-- Scope rules (APIM): <base/> inserts the parent scope's section where it
-- stands; a section without <base/> drops the parent's. A section element that
-- is missing altogether inherits the parent's (as if it held only <base/>).
-- The root of the chain has an empty inbound, outbound and on-error, and a
-- backend of <forward-request/> (APIM's default global policy).

local reader = require "portico.reader"
local sandbox = require "portico.sandbox"
local context = require "portico.context"

local byte, find, format, gsub, lower, match, sub =
  string.byte, string.find, string.format, string.gsub, string.lower, string.match, string.sub
local concat, sort = table.concat, table.sort
local pairs, ipairs, type, tostring, tonumber, setmetatable, pcall, select =
  pairs, ipairs, type, tostring, tonumber, setmetatable, pcall, select
local load, require, max, tointeger = load, require, math.max, math.tointeger

local M = {}

M.SECTIONS = { "inbound", "backend", "outbound", "on-error" }
local SECTION_SET = { inbound = true, backend = true, outbound = true, ["on-error"] = true }
M.SCOPE_RANK = { global = 1, product = 2, api = 3, operation = 4 }
-- which message a policy in a section changes
local MESSAGE = { inbound = "request", backend = "request", outbound = "response",
  ["on-error"] = "response" }

-- Elements of the next issue (traffic and integration): still "not supported",
-- but counted apart when measuring a corpus.
M.PLANNED = {}
for name in ([[rate-limit rate-limit-by-key quota quota-by-key limit-concurrency send-request
  send-one-way-request retry wait cache-lookup cache-store cache-lookup-value cache-store-value
  cache-remove-value cors jsonp validate-jwt validate-azure-ad-token authentication-basic
  authentication-certificate authentication-managed-identity check-header ip-filter
  log-to-eventhub emit-metric json-to-xml xml-to-json find-and-replace validate-content
  validate-parameters validate-headers validate-status-code xsl-transform proxy
  get-authorization-context llm-token-limit azure-openai-token-limit]]):gmatch("%S+") do
  M.PLANNED[name] = true
end

local BASE = { kind = "base" }
local code_position -- below

------------------------------------------------------------------------------
-- small helpers

local function trim(s) return match(s, "^%s*(.-)%s*$") end

-- Levenshtein distance, for "did you mean" (names are short).
local function distance(a, b)
  local la, lb = #a, #b
  if la == 0 then return lb end
  if lb == 0 then return la end
  local prev, cur = {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur[0] = i
    local ca = byte(a, i)
    for j = 1, lb do
      local cost = ca == byte(b, j) and 0 or 1
      local v = prev[j] + 1
      if cur[j - 1] + 1 < v then v = cur[j - 1] + 1 end
      if prev[j - 1] + cost < v then v = prev[j - 1] + cost end
      cur[j] = v
    end
    prev, cur = cur, prev
  end
  return prev[lb]
end

local function closest(name, candidates)
  local best, best_d
  for _, c in ipairs(candidates) do
    local d = distance(lower(name), lower(c))
    if d <= max(2, #name // 3) and (not best_d or d < best_d) then best, best_d = c, d end
  end
  return best
end
M.closest = closest

local function keys_of(t)
  local out = {}
  for k in pairs(t or {}) do out[#out + 1] = k end
  sort(out)
  return out
end

------------------------------------------------------------------------------
-- positions: named values change the text, so positions the reader reports
-- in the substituted text are mapped back to the file as written

local function line_starts(s)
  local starts, p = { 1 }, 1
  while true do
    local nl = find(s, "\n", p, true)
    if not nl then return starts end
    starts[#starts + 1] = nl + 1
    p = nl + 1
  end
end

-- byte offset of the col-th character (1-based) of line `line`
local function offset_of(s, starts, line, col)
  local p = starts[line] or (#s + 1)
  local n = 1
  while n < col and p <= #s do
    p = p + 1
    while p <= #s do
      local b = byte(s, p)
      if b < 128 or b >= 192 then break end
      p = p + 1
    end
    n = n + 1
  end
  return p
end

local function line_col(s, starts, off)
  local lo, hi = 1, #starts
  while lo < hi do
    local mid = (lo + hi + 1) // 2
    if starts[mid] <= off then lo = mid else hi = mid - 1 end
  end
  local _, cont = gsub(sub(s, starts[lo], off - 1), "[\128-\191]", "")
  return lo, off - starts[lo] - cont + 1
end

-- The remap function of a substitution: (line, col) in the new text ->
-- (line, col) in the original. `spans`: { new_start, new_end, orig_start, delta }.
local function make_remap(orig, new, spans)
  if #spans == 0 then return nil end
  local o_starts, n_starts
  return function(line, col)
    o_starts = o_starts or line_starts(orig)
    n_starts = n_starts or line_starts(new)
    local off = offset_of(new, n_starts, line, col)
    local shift = 0
    for _, sp in ipairs(spans) do
      if off < sp[1] then break end
      if off <= sp[2] then off = sp[3]; shift = nil; break end
      shift = sp[4]
    end
    if shift then off = off - shift end
    return line_col(orig, o_starts, off)
  end
end

------------------------------------------------------------------------------
-- the compiler object

local Compiler = {}
Compiler.__index = Compiler

function M.new(spec)
  local k = setmetatable({
    spec = spec or {},
    errors = {},
    modules = {},
    named = (spec and spec.named_values) or {},
    fragment_specs = (spec and spec.fragments) or {},
    fragments = {},       -- id -> { root, remap, file } | false (failed)
    including = {},       -- fragment ids being compiled (cycles)
    user_dirs = (spec and spec.policy_paths) or {},
    builtin = {},         -- element name -> true when its module is a built-in (native plan)
    secrets = {},
  }, Compiler)
  for name, nv in pairs(k.named) do
    local v = type(nv) == "table" and nv.value or nv
    if type(nv) == "table" and nv.secret and type(v) == "string" and #v >= 3 then
      k.secrets[#k.secrets + 1] = { v, "{{" .. name .. "}}" }
    end
  end
  -- longest first, so a secret holding another is replaced whole
  sort(k.secrets, function(a, b) return #a[1] > #b[1] end)
  return k
end

-- Secret named values never appear in messages: they are put back as {{name}}.
function Compiler:redact(msg)
  for _, s in ipairs(self.secrets) do
    local i = find(msg, s[1], 1, true)
    while i do
      msg = sub(msg, 1, i - 1) .. s[2] .. sub(msg, i + #s[1])
      i = find(msg, s[1], i + #s[2], true)
    end
  end
  return msg
end

function Compiler:add_error(msg)
  self.errors[#self.errors + 1] = self:redact(msg)
  return nil
end

------------------------------------------------------------------------------
-- named values

local NV_NAME = "[%w%._%-]+"

-- Replaces {{name}} in `text`; returns new text and a remap function (or nil
-- when nothing changed), or nil after recording an error per missing name.
function Compiler:substitute(text, file)
  if not find(text, "{{", 1, true) then return text, nil end
  local out, spans, n = {}, {}, 0
  local p, ok, delta = 1, true, 0
  local starts
  while true do
    local s, e, name = find(text, "{{(" .. NV_NAME .. ")}}", p)
    if not s then break end
    local nv = self.named[name]
    local value = type(nv) == "table" and nv.value or nv
    if value == nil then
      starts = starts or line_starts(text)
      local line, col = line_col(text, starts, s)
      local hint = closest(name, keys_of(self.named))
      self:add_error(format("%s:%d:%d: named value '%s' is not defined%s", file, line, col, name,
        hint and (" (did you mean '" .. hint .. "'?)") or " (add it under namedValues)"))
      ok = false
    else
      value = tostring(value)
      out[n + 1] = sub(text, p, s - 1)
      out[n + 2] = value
      n = n + 2
      local new_start = s + delta
      delta = delta + #value - (e - s + 1)
      -- { first and last byte in the new text, where it was, new - old after it }
      spans[#spans + 1] = { new_start, new_start + #value - 1, s, delta }
    end
    p = e + 1
  end
  if not ok then return nil end
  out[n + 1] = sub(text, p)
  local new = concat(out)
  return new, make_remap(text, new, spans)
end

-- Substitutes and reads a document; returns root, remap or nil (error recorded).
function Compiler:read(text, file)
  local new, remap = self:substitute(text, file)
  if not new then return nil end
  local root, err = reader.parse(new, file)
  if not root then
    if remap then
      local f, l, c, rest = match(err, "^(.-):(%d+):(%d+): (.*)$")
      if f then
        local ol, oc = remap(tonumber(l), tonumber(c))
        err = format("%s:%d:%d: %s", f, ol, oc, rest)
      end
    end
    return self:add_error(err)
  end
  return root, remap
end

------------------------------------------------------------------------------
-- modules

-- element names that may become a file or module name (no dots, no slashes)
local VALID_ELEMENT = "^[%a_][%w_%-]*$"

-- The environment user modules and Lua documents load in (one per compiler).
function Compiler:policy_env()
  if not self.env then
    self.env = sandbox.env({ policy = M.policy_api })
  end
  return self.env
end

-- Loads the user module at `path`: nil when there is no such file, else
-- chunk or false, err. Uses io when the state has it, else loadfile.
local function load_user(path, env)
  if io and io.open then
    local f = io.open(path, "rb")
    if not f then return nil end
    local text = f:read("a")
    f:close()
    local chunk, err = load(text, "@" .. path, "t", env)
    return chunk or false, err
  end
  local chunk, err = loadfile(path, "t", env)
  if not chunk and find(tostring(err), "cannot open", 1, true) then return nil end
  return chunk or false, err
end

local function check_module(mod, where)
  if type(mod) ~= "table" or type(mod.compile) ~= "function" then
    return nil, where .. ": a policy module returns a table with compile(node, c)"
  end
  return mod
end

-- The module for element `name`: a user module from policy_paths (which may
-- replace a built-in) or policies/<name>.lua. Returns mod, or nil, err|nil.
function Compiler:module(name)
  local cached = self.modules[name]
  if cached ~= nil then return cached or nil, nil end
  if not match(name, VALID_ELEMENT) then
    self.modules[name] = false
    return nil
  end
  local texts = self.spec.policy_module_texts
  for _, dir in ipairs(self.user_dirs) do
    local path = dir .. "/" .. name .. ".lua"
    local chunk, err
    if texts then
      -- the generation's snapshot (C read the folders once): never the disk
      local text = texts[path]
      if text then
        chunk, err = load(text, "@" .. path, "t", self:policy_env())
        chunk = chunk or false
      end
    else
      chunk, err = load_user(path, self:policy_env())
    end
    if chunk == false then return nil, err end
    if chunk then
      local ok, mod = pcall(chunk)
      if not ok then return nil, path .. ": " .. tostring(mod) end
      local m, merr = check_module(mod, path)
      if not m then return nil, merr end
      self.modules[name] = m
      return m
    end
  end
  for _, modname in ipairs({ name, "policies." .. name }) do
    local ok, mod = pcall(require, modname)
    if ok then
      local m, merr = check_module(mod, "policies/" .. name .. ".lua")
      if not m then return nil, merr end
      self.modules[name] = m
      self.builtin[name] = true
      return m
    end
    if not find(tostring(mod), "module '" .. modname .. "' not found", 1, true) then
      return nil, tostring(mod)
    end
  end
  self.modules[name] = false
  return nil
end

------------------------------------------------------------------------------
-- compile sites: what a policy's compile(node, c) gets

local Site = {}
Site.__index = Site
M.Site = Site

function Compiler:site(t)
  t.k = self
  t.spec = self.spec
  t.rank = M.SCOPE_RANK[t.scope]
  t.message = t.message or MESSAGE[t.section]
  t.path = t.path or ""
  return setmetatable(t, Site)
end

function Site:derive(t)
  local s = {}
  for key, v in pairs(self) do s[key] = v end
  for key, v in pairs(t) do s[key] = v end
  return setmetatable(s, Site)
end

-- "file:line:col" of a node or an attribute entry (line/col), mapped back
-- through named value substitution.
function Site:where(pos)
  local line, col = pos.line or 0, pos.col or 0
  if self.remap and line > 0 then line, col = self.remap(line, col) end
  return format("%s:%d:%d", self.file, line, col)
end

-- Records "file:line:col: message" and returns nil.
function Site:error(pos, fmt, ...)
  local msg = select("#", ...) > 0 and format(fmt, ...) or fmt
  return self.k:add_error(self:where(pos) .. ": " .. msg)
end

-- Remembers a literal backend URL (set-backend-service base-url), so that C
-- can tell when it points back at this gateway (self-chaining).
function Site:note_base_url(pos, url)
  local list = self.k.base_urls
  if not list then list = {}; self.k.base_urls = list end
  list[#list + 1] = { url = url, where = self:where(pos) }
end

function Site:attr_entry(node, name)
  for _, a in ipairs(node.attrs or {}) do
    if a.name == name then return a end
  end
  return nil
end

-- Checks that every attribute of `node` is in `allowed` (`id` always is).
function Site:check_attrs(node, allowed)
  local set = { id = true }
  for _, a in ipairs(allowed) do set[a] = true end
  local ok = true
  for _, a in ipairs(node.attrs or {}) do
    if not set[a.name] and not find(a.name, "^xmlns") and not find(a.name, ":") then
      local hint = closest(a.name, allowed)
      self:error(a, "<%s>: unknown attribute '%s'%s", node.name, a.name,
        hint and (" (did you mean '" .. hint .. "'?)")
          or (#allowed > 0 and (" (expected " .. concat(allowed, ", ") .. ")") or ""))
      ok = false
    end
  end
  return ok
end

-- The child elements of `node`; text is an error. `allowed`: a list of names,
-- or nil for any.
function Site:elements(node, allowed)
  local set
  if allowed then
    set = {}
    for _, a in ipairs(allowed) do set[a] = true end
  end
  local out, ok = {}, true
  for _, ch in ipairs(node.children or {}) do
    if ch.text then
      self:error(ch, "<%s>: unexpected text%s", node.name,
        allowed and (" (expected " .. concat(allowed, ", ") .. ")") or "")
      ok = false
    elseif set and not set[ch.name] then
      self:error(ch, "<%s> is not allowed in <%s> (expected %s)", ch.name, node.name,
        concat(allowed, ", "))
      ok = false
    else
      out[#out + 1] = ch
    end
  end
  return out, ok
end

-- Notes that a section reads a body, so C buffers it (engine.flags).
function Site:needs_body(which)
  local f = self.flags
  if f then f[which] = true end
end

local function scan_body(site, code)
  if not find(code, "Body", 1, true) then return end
  local req = find(code, "Request.Body", 1, true)
  local resp = find(code, "Response.Body", 1, true)
  if req then site:needs_body("request") end
  if resp then site:needs_body("response") end
  if not req and not resp then site:needs_body(site.message == "request" and "request" or "response") end
end

-- Compiles C# `code` ("expr" or "block") found at `pos`; returns fn(ctx) or nil.
function Site:expression(kind, code, pos)
  local expr = M.expr_module()
  if not expr then return self:error(pos, "policy expressions are not available (portico.expr)") end
  local where = self:where(pos)
  local fn, err = expr.compile(code, kind, where, self.k:policy_env())
  if not fn then
    err = tostring(err)
    if not find(err, where, 1, true) and not match(err, "^[^:]+:%d+:%d+:") then
      err = where .. ": " .. err
    end
    return self.k:add_error(err)
  end
  scan_body(self, code)
  local rt = M.runtime()
  return function(ctx) return fn(ctx, rt) end
end

-- Where the C# code of an expression value starts: after the value's
-- leading whitespace and the "@(" or "@{" (attributes: from the value's first
-- character; text nodes start at their first non-blank character).
code_position = function(pos, raw)
  local line, col = pos.value_line or pos.line or 0, pos.value_col or pos.col or 0
  if pos.value_line then
    local ws = match(raw, "^%s*")
    for ch in ws:gmatch(".") do
      if ch == "\n" then line, col = line + 1, 1 else col = col + 1 end
    end
  end
  return { line = line, col = col + 2 }
end

local function to_string(v)
  local rt = M.runtime()
  if rt and rt.tostring then return rt.tostring(v) end
  if v == nil then return "" end
  return tostring(v)
end
M.to_string = to_string

local function to_bool(v)
  if v == true or v == false then return v end
  if type(v) == "string" then
    local l = lower(trim(v))
    if l == "true" then return true end
    if l == "false" then return false end
  end
  return nil
end

local function to_int(v)
  local n = tonumber(v)
  if n == nil then return nil end
  return tointeger(n)
end

-- converters by type: value -> converted or nil
local CONVERT = {
  string = function(v) return to_string(v) end,
  bool = to_bool,
  int = to_int,
  number = tonumber,
  any = function(v) return v end,
}
local TYPE_WORD = { bool = "true or false", int = "an integer", number = "a number" }

-- A value given as `raw` (attribute value or text) at `pos`: literal or
-- expression. opts: { type = "string"|"bool"|"int"|"number"|"any", values = {...}
-- (allowed literal values, compared without case), expr = false (no
-- expressions), what = "attribute 'x'" }.
-- Returns get(ctx), is_const, const_value; or nil (error recorded).
function Site:compile_value(raw, pos, opts, what)
  local ty = opts.type or "string"
  local conv = CONVERT[ty]
  local kind, code = reader.is_expression(raw)
  if kind then
    if opts.expr == false then
      return self:error(pos, "%s: policy expressions are not allowed here", what)
    end
    local fn = self:expression(kind, code, code_position(pos, raw))
    if not fn then return nil end
    local values = opts.values
    local where = self:where(pos)
    if ty == "any" then return fn, false end
    return function(ctx)
      local v = fn(ctx)
      local cv = conv(v)
      if cv == nil then
        context.fail("ExpressionValueEvaluationFailure", format("%s: %s evaluated to '%s', expected %s",
          where, what, to_string(v), TYPE_WORD[ty] or ty))
      end
      if values then
        local l = lower(cv)
        if not values[l] then
          context.fail("ExpressionValueEvaluationFailure", format("%s: %s evaluated to '%s'", where,
            what, cv))
        end
        cv = l
      end
      return cv
    end, false
  end
  local v = raw
  if ty ~= "string" and ty ~= "any" then v = trim(raw) end
  local cv = conv(v)
  if cv == nil then
    return self:error(pos, "%s: '%s' is not %s", what, raw, TYPE_WORD[ty] or ty)
  end
  if opts.values then
    local l = lower(cv)
    if not opts.values[l] then
      local list = keys_of(opts.values)
      return self:error(pos, "%s: '%s' is not one of %s", what, cv, concat(list, ", "))
    end
    cv = l
  end
  return function() return cv end, true, cv
end

local function value_set(list)
  if not list then return nil end
  local s = {}
  for _, v in ipairs(list) do s[lower(v)] = true end
  return s
end

-- An attribute as a getter: see compile_value; also opts.required, opts.default.
-- Returns get, is_const, const_value (default when absent); nil on error.
function Site:attr(node, name, opts)
  opts = opts or {}
  if opts.values and opts.values[1] then opts.values = value_set(opts.values) end
  local a = self:attr_entry(node, name)
  if not a then
    if opts.required then
      return self:error(node, "<%s>: attribute '%s' is required", node.name, name)
    end
    local d = opts.default
    return function() return d end, true, d
  end
  return self:compile_value(a.value, a, opts, format("<%s %s>", node.name, name))
end

-- The text content of `node` as a getter (elements inside are an error).
-- Literal text is trimmed. Returns get, is_const, value; nil on error; when
-- the node is empty: opts.default.
function Site:text(node, opts)
  opts = opts or {}
  if opts.values and opts.values[1] then opts.values = value_set(opts.values) end
  local parts, first = {}, nil
  for _, ch in ipairs(node.children or {}) do
    if ch.text then
      parts[#parts + 1] = ch.text
      first = first or ch
    else
      return self:error(ch, "<%s> holds text or an expression, not <%s>", node.name, ch.name)
    end
  end
  if #parts == 0 then
    if opts.required then
      return self:error(node, "<%s>: a value is required", node.name)
    end
    local d = opts.default
    return function() return d end, true, d
  end
  local raw = concat(parts)
  if not reader.is_expression(raw) then raw = trim(raw) end
  return self:compile_value(raw, first, opts, "<" .. node.name .. ">")
end

-- Compiles the child elements of `node` into one function(ctx) running them in
-- order (stopping when the pipeline is stopped); nil on error.
function Site:sequence(node, extra)
  local steps, metas = self:steps(node, extra)
  if not steps then return nil end
  return M.runner(steps, metas)
end

-- Compiles child elements into steps + metas (or nil after an error).
function Site:steps(node, extra)
  local site = extra and self:derive(extra) or self
  local elements, ok = site:elements(node)
  local steps, metas = {}, {}
  for i, el in ipairs(elements) do
    local fn, meta = site:element(el, i)
    if fn then
      steps[#steps + 1] = fn
      metas[#metas + 1] = meta
    else
      ok = false
    end
  end
  if not ok then return nil end
  return steps, metas
end

local function is_planned(name) return M.PLANNED[name] end

-- Compiles one policy element (index `i` among its siblings); returns fn, meta.
function Site:element(node, i)
  local name = node.name
  local mod, err = self.k:module(name)
  if not mod then
    if err then return self:error(node, "policy %s failed to load: %s", name, err) end
    return self:error(node, "policy %s is not supported%s", name,
      is_planned(name) and " (planned: traffic and integration policies)" or "")
  end
  if mod.sections then
    local allowed = false
    for _, s in ipairs(mod.sections) do
      if s == self.section then allowed = true end
    end
    if not allowed then
      return self:error(node, "<%s> is not allowed in <%s> (allowed in %s)", name, self.section,
        concat(mod.sections, ", "))
    end
  end
  -- a module that sends the client's request (`forwards = true`, forward-request)
  -- inside one that may run it again (a site with `replays`, retry) needs the
  -- request body buffered so that it can be sent twice
  if mod.forwards and self.replays then self:needs_body("request") end
  local path = (self.path ~= "" and (self.path .. "/") or "") .. name .. "[" .. (i or 1) .. "]"
  local site = self:derive({ path = path, node = node })
  local before = #self.k.errors
  local ok, fn, native = pcall(mod.compile, node, site)
  if not ok then
    return self:error(node, "policy %s: compile failed: %s", name, tostring(fn))
  end
  if type(fn) ~= "function" then
    if #self.k.errors == before then
      self:error(node, "policy %s: compile returned no function", name)
    end
    return nil
  end
  -- a built-in's second value: its native plan ops (plan.lua); user modules
  -- never have one, even when they replace a built-in
  local meta = {
    source = name, scope = self.scope, section = self.section, path = path,
    policy_id = node.attr and node.attr.id, where = self:where(node),
    plan = self.k.builtin[name] and type(native) == "table" and native or false,
  }
  return fn, meta
end

-- The parsed fragment `id` (cached): root node and remap.
function Compiler:fragment(id)
  local f = self.fragments[id]
  if f ~= nil then return f or nil end
  local spec = self.fragment_specs[id]
  if not spec then return nil end
  local file = spec.file or ("fragment " .. id)
  local root, remap = self:read(spec.text or "", file)
  if root and root.name ~= "fragment" then
    self:add_error(format("%s:%d:%d: a fragment's root element is <fragment>, not <%s>", file,
      root.line, root.col, root.name))
    root = nil
  end
  f = root and { root = root, remap = remap, file = file } or false
  self.fragments[id] = f
  return f or nil
end

function Compiler:fragment_ids() return keys_of(self.fragment_specs) end

------------------------------------------------------------------------------
-- running steps

local function noop() end
M.noop = noop

-- One function running steps in order; `ctx.current` names the running policy
-- (for LastError); stops when a policy stopped the pipeline.
function M.runner(steps, metas)
  local n = #steps
  if n == 0 then return noop end
  if n == 1 then
    local s, m = steps[1], metas[1]
    return function(ctx)
      ctx.current = m
      return s(ctx)
    end
  end
  return function(ctx)
    for i = 1, n do
      ctx.current = metas[i]
      steps[i](ctx)
      if ctx.stopped then return end
    end
  end
end

------------------------------------------------------------------------------
-- documents

local function section_items(site, node)
  local items = { flags = {} }
  local s = site:derive({ flags = items.flags })
  local elements, ok = s:elements(node)
  local seen_base = false
  for i, el in ipairs(elements) do
    if el.name == "base" then
      if seen_base then
        s:error(el, "<base/> appears twice in <%s>", node.name)
        ok = false
      end
      s:check_attrs(el, {})
      seen_base = true
      items[#items + 1] = BASE
    else
      local fn, meta = s:element(el, i)
      if fn then
        items[#items + 1] = { kind = "step", fn = fn, meta = meta }
      else
        ok = false
      end
    end
  end
  return ok and items or nil
end

-- Compiles a Lua policy document: a chunk returning { inbound = function(context,
-- base) ... end, ... }; `base(context)` runs the parent scope's section.
function Compiler:lua_document(doc, scope)
  local file = doc.file or "policy.lua"
  local chunk, err = load(doc.text or "", "@" .. file, "t", self:policy_env())
  if not chunk then return self:add_error(tostring(err)) end
  local ok, t = pcall(chunk)
  if not ok then return self:add_error(file .. ": " .. tostring(t)) end
  if type(t) ~= "table" then
    return self:add_error(file .. ": a Lua policy document returns a table of section functions "
      .. "{ inbound = function(context, base) ... end, ... }")
  end
  local out = { sections = {}, file = file }
  local buffer = t.buffer
  local reads = find(doc.text or "", "[Bb]ody") ~= nil
  for key, fn in pairs(t) do
    if key ~= "buffer" then
      if not SECTION_SET[key] then
        self:add_error(format("%s: unknown section '%s' (expected inbound, backend, outbound, on-error)",
          file, tostring(key)))
        ok = false
      elseif type(fn) ~= "function" then
        self:add_error(format("%s: section '%s' must be a function(context, base)", file, key))
        ok = false
      else
        local flags = {}
        if type(buffer) == "table" then
          flags.request, flags.response = buffer.request and true, buffer.response and true
        elseif reads then
          flags.request = MESSAGE[key] == "request" or key == "on-error"
          flags.response = MESSAGE[key] == "response"
        end
        local meta = { source = "lua", scope = scope, section = key, path = file, where = file }
        out.sections[key] = { { kind = "lua", fn = fn, meta = meta }, flags = flags }
      end
    end
  end
  if not ok then return nil end
  return out
end

-- Compiles one policy document at `scope` ("global", "product", "api",
-- "operation"); `ids` = { api_id, operation_id, product_id }. Returns the
-- compiled document or nil (errors recorded).
function Compiler:document(doc, scope, ids)
  local file = doc.file or (scope .. " policy")
  if match(file, "%.lua$") then return self:lua_document(doc, scope) end
  local root, remap = self:read(doc.text or "", file)
  if not root then return nil end
  local site = self:site({ file = file, remap = remap, scope = scope, section = "inbound",
    ids = ids or {} })
  if root.name ~= "policies" then
    return site:error(root, "the root element of a policy document is <policies>, not <%s>", root.name)
  end
  site:check_attrs(root, {})
  local out = { sections = {}, file = file }
  local ok = true
  for _, el in ipairs((site:elements(root))) do
    local name = el.name
    if not SECTION_SET[name] then
      local hint = closest(name, M.SECTIONS)
      site:error(el, "unknown section <%s>%s", name,
        hint and (" (did you mean <" .. hint .. ">?)") or " (expected inbound, backend, outbound, on-error)")
      ok = false
    elseif out.sections[name] then
      site:error(el, "section <%s> appears twice", name)
      ok = false
    else
      site:check_attrs(el, {})
      local items = section_items(site:derive({ section = name, message = MESSAGE[name] }), el)
      if items then out.sections[name] = items else ok = false end
    end
  end
  return ok and out or nil
end

------------------------------------------------------------------------------
-- composing scopes

-- The default global policy: backend = <forward-request/>.
function Compiler:root_sections()
  if self.root then return self.root end
  local site = self:site({ file = "(default global policy)", scope = "global", section = "backend" })
  local flags = {}
  site.flags = flags
  local node = { name = "forward-request", attrs = {}, attr = {}, children = {}, line = 0, col = 0 }
  local fn, meta = site:element(node, 1)
  local root = {
    inbound = { steps = {}, metas = {}, flags = {} },
    backend = { steps = { fn }, metas = { meta }, flags = flags, default = true },
    outbound = { steps = {}, metas = {}, flags = {} },
    ["on-error"] = { steps = {}, metas = {}, flags = {} },
  }
  self.root = root
  return root
end

local function effective(parent, items)
  if items == nil then return parent end
  local steps, metas = {}, {}
  local flags = { request = items.flags.request, response = items.flags.response }
  local function take_parent()
    for i = 1, #parent.steps do
      steps[#steps + 1] = parent.steps[i]
      metas[#metas + 1] = parent.metas[i]
    end
    flags.request = flags.request or parent.flags.request
    flags.response = flags.response or parent.flags.response
  end
  local only_base = #items == 1 and items[1] == BASE
  if only_base then return parent end
  for _, it in ipairs(items) do
    if it == BASE then
      take_parent()
    elseif it.kind == "lua" then
      local run_parent = M.runner(parent.steps, parent.metas)
      local fn, meta = it.fn, it.meta
      steps[#steps + 1] = function(ctx)
        return fn(ctx, function(c)
          local saved = ctx.current
          run_parent(c or ctx)
          ctx.current = saved
        end)
      end
      metas[#metas + 1] = meta
      flags.request = flags.request or parent.flags.request
      flags.response = flags.response or parent.flags.response
    else
      steps[#steps + 1] = it.fn
      metas[#metas + 1] = it.meta
    end
  end
  return { steps = steps, metas = metas, flags = flags }
end

-- Composes compiled documents (broad to narrow, nils skipped) into a chain:
-- { inbound = fn, backend = fn, outbound = fn, on_error = fn, has_on_error,
--   flags = { policies, request_body, response_body } }.
function M.compose(root, docs)
  local cur = root
  for _, doc in ipairs(docs) do
    if doc then
      local nxt = {}
      for _, s in ipairs(M.SECTIONS) do
        nxt[s] = effective(cur[s], doc.sections[s])
      end
      cur = nxt
    end
  end
  local chain = {
    inbound = M.runner(cur.inbound.steps, cur.inbound.metas),
    backend = M.runner(cur.backend.steps, cur.backend.metas),
    outbound = M.runner(cur.outbound.steps, cur.outbound.metas),
    on_error = M.runner(cur["on-error"].steps, cur["on-error"].metas),
    has_on_error = #cur["on-error"].steps > 0,
  }
  local rb, sb = false, false
  for _, s in ipairs(M.SECTIONS) do
    rb = rb or cur[s].flags.request or false
    sb = sb or cur[s].flags.response or false
  end
  local trivial = #cur.inbound.steps == 0 and #cur.outbound.steps == 0
    and #cur["on-error"].steps == 0 and cur.backend == root.backend
  chain.flags = { policies = not trivial, request_body = rb, response_body = sb }
  -- nothing runs after the default forward-request on success: C may answer
  -- without resuming the coroutine (see pipeline.forward, ENGINE.md). A backend
  -- section holding only <forward-request/> without attributes is the default
  -- one (APIM's default global policy is written that way).
  local bm = cur.backend.metas
  local plain_forward = #bm == 1 and bm[1].plan == require("portico.plan").FORWARD
  chain.ends_at_forward = #cur.outbound.steps == 0 and (cur.backend == root.backend or plain_forward)
  chain.sections = cur
  return chain
end

------------------------------------------------------------------------------
-- late-bound modules (expr.lua, csharp.lua are written alongside)

local expr_mod, rt_mod
function M.expr_module()
  if expr_mod == nil then
    local ok, m = pcall(require, "portico.expr")
    expr_mod = ok and type(m) == "table" and m or false
  end
  return expr_mod or nil
end

function M.runtime()
  if rt_mod == nil then
    local ok, m = pcall(require, "portico.csharp")
    rt_mod = ok and type(m) == "table" and m or false
    if rt_mod then context.runtime = rt_mod end
  end
  return rt_mod or nil
end

-- The `policy` table user modules and Lua documents see (filled by engine.lua,
-- which knows the pipeline).
M.policy_api = {}

return M
