-- csharp/regex.lua - System.Text.RegularExpressions in the C# run-time library: a
-- backtracking matcher over code points for the .NET syntax APIM policies use.
--
-- Owns: the pattern parser and matcher (classes, \d \w \s \b, numbered/named/non-
-- capturing groups, lookaround, backreferences, greedy and lazy quantifiers,
-- alternation, anchors; options IgnoreCase, Multiline, Singleline, ExplicitCapture,
-- IgnorePatternWhitespace), a cache of compiled patterns, Regex/Match/Group/
-- MatchCollection/GroupCollection, replacement texts ($1 ${name} $& ...), the Regex
-- statics, and rt.regex_check (the translator checks literal patterns at load time).
--
-- Does not own: the object model (csharp.lua).

local format, gsub, sub, match = string.format, string.gsub, string.sub, string.match
local concat = table.concat
local huge, mtype = math.huge, math.type
local type, error, ipairs, pairs, tostring, tonumber, setmetatable =
  type, error, ipairs, pairs, tostring, tonumber, setmetatable
local utf8char, utf8codes = utf8.char, utf8.codes

local core = require "portico.csharp.core"
local collections = require "portico.csharp.collections"
local M, T, NEW = core.rt, core.T, core.NEW
local class, throw, str, slen = core.class, core.throw, core.str, core.slen
local need_string, out_of_range = core.need_string, core.out_of_range
local new_array, ENUMERABLE = collections.new_array, collections.ENUMERABLE

------------------------------------------------------------------------------
-- Regex: a backtracking matcher for the .NET syntax APIM policies use: classes,
-- \d \w \s \b, groups (numbered, named, non-capturing), lookaround, backreferences,
-- greedy and lazy quantifiers, alternation, anchors; options IgnoreCase, Multiline,
-- Singleline, IgnorePatternWhitespace. Indexes count characters.

local RegexC = class("Regex")
local MatchC = class("Match")
local GroupC = class("Group")
local MatchCollection = class("MatchCollection")
local GroupCollection = class("GroupCollection")

local OPT = { IgnoreCase = 1, Multiline = 2, ExplicitCapture = 4, Compiled = 8, Singleline = 16,
  IgnorePatternWhitespace = 32, RightToLeft = 64, ECMAScript = 256, CultureInvariant = 512 }

local function regex_error(pattern, msg)
  throw("ArgumentException", format("Invalid pattern '%s': %s", pattern, msg))
end

local function cp_lower(c)
  if c >= 65 and c <= 90 then return c + 32 end
  return c
end

local function is_word(c) return c and (c == 95 or (c >= 48 and c <= 57) or (c >= 65 and c <= 90) or (c >= 97 and c <= 122) or c >= 0xC0) end
local function is_digit(c) return c >= 48 and c <= 57 end
local function is_space(c) return c == 32 or (c >= 9 and c <= 13) or c == 0xA0 or c == 0x2028 or c == 0x2029 end

-- parser ---------------------------------------------------------------------

local function parse(pattern, opts)
  local cps = {}
  for _, c in utf8codes(pattern) do cps[#cps + 1] = c end
  local pos, n = 1, #cps
  local groups = {}      -- in order of '(' : { name = string|nil }
  local xmode = (opts & OPT.IgnorePatternWhitespace) ~= 0
  local explicit = (opts & OPT.ExplicitCapture) ~= 0
  local function peek(k) return cps[pos + (k or 0)] end
  local function err(msg) regex_error(pattern, msg) end

  local parse_alt

  local function class_escape(c)
    -- inside or outside a class: \d \w \s and negations -> predicate
    if c == 100 then return is_digit, false end -- d
    if c == 68 then return is_digit, true end   -- D
    if c == 119 then return is_word, false end  -- w
    if c == 87 then return is_word, true end    -- W
    if c == 115 then return is_space, false end -- s
    if c == 83 then return is_space, true end   -- S
    return nil
  end

  local SIMPLE = { [110] = 10, [114] = 13, [116] = 9, [102] = 12, [118] = 11, [101] = 27, [97] = 7 }

  local function escape_char()
    -- after '\': a literal code point, or nil
    local c = peek()
    pos = pos + 1
    if SIMPLE[c] then return SIMPLE[c] end
    if c == 48 then return 0 end
    if c == 120 then -- \xHH
      local h = utf8char(peek() or 0) .. utf8char(peek(1) or 0)
      if not match(h, "^%x%x$") then err("insufficient hexadecimal digits") end
      pos = pos + 2
      return tonumber(h, 16)
    end
    if c == 117 then -- \uHHHH
      local h = ""
      for k = 0, 3 do h = h .. utf8char(peek(k) or 0) end
      if not match(h, "^%x%x%x%x$") then err("insufficient hexadecimal digits") end
      pos = pos + 4
      return tonumber(h, 16)
    end
    if c == 112 or c == 80 then err("Unicode categories (\\p) are not supported") end
    if c == 99 then err("control characters (\\c) are not supported") end
    if c and ((c >= 65 and c <= 90) or (c >= 97 and c <= 122)) then
      err("unrecognized escape sequence \\" .. utf8char(c))
    end
    return c
  end

  local function parse_class()
    -- after '['
    local negate = false
    if peek() == 94 then negate = true; pos = pos + 1 end
    local items = {}
    local first = true
    while true do
      local c = peek()
      if c == nil then err("unterminated [] set") end
      if c == 93 and not first then pos = pos + 1; break end
      first = false
      local lo
      if c == 92 then
        pos = pos + 1
        local e = peek()
        local pred, neg = class_escape(e)
        if pred then
          pos = pos + 1
          items[#items + 1] = { pred = pred, neg = neg }
        else
          if e == 98 then pos = pos + 1; lo = 8 else lo = escape_char() end
        end
      elseif c == 91 and peek(1) == 58 then
        err("POSIX classes are not supported")
      else
        lo = c
        pos = pos + 1
      end
      if lo then
        if peek() == 45 and peek(1) and peek(1) ~= 93 then
          pos = pos + 1
          local hi = peek()
          if hi == 91 then err("character class subtraction is not supported") end
          if hi == 92 then pos = pos + 1; hi = escape_char() else pos = pos + 1 end
          if hi < lo then err("[x-y] range in reverse order") end
          items[#items + 1] = { lo = lo, hi = hi }
        else
          items[#items + 1] = { lo = lo, hi = lo }
        end
      end
    end
    return { t = "class", items = items, negate = negate }
  end

  local function parse_atom()
    local c = peek()
    if c == 40 then -- (
      pos = pos + 1
      if peek() == 63 then -- (?
        pos = pos + 1
        local k = peek()
        if k == 58 then pos = pos + 1; local node = parse_alt(); if peek() ~= 41 then err("not enough )'s") end; pos = pos + 1; return { t = "group", node = node } end
        if k == 61 or k == 33 then
          pos = pos + 1
          local node = parse_alt()
          if peek() ~= 41 then err("not enough )'s") end
          pos = pos + 1
          return { t = "look", node = node, neg = k == 33, behind = false }
        end
        if k == 60 and (peek(1) == 61 or peek(1) == 33) then
          local neg = peek(1) == 33
          pos = pos + 2
          local node = parse_alt()
          if peek() ~= 41 then err("not enough )'s") end
          pos = pos + 1
          return { t = "look", node = node, neg = neg, behind = true }
        end
        if k == 60 or k == 39 or k == 80 then -- (?<name> (?'name' (?P<name>
          if k == 80 then pos = pos + 1 end
          local close = peek() == 39 and 39 or 62
          pos = pos + 1
          local name = {}
          while peek() and peek() ~= close do name[#name + 1] = utf8char(peek()); pos = pos + 1 end
          if peek() ~= close then err("unterminated group name") end
          pos = pos + 1
          name = concat(name)
          if not match(name, "^[%w_]+$") then err("invalid group name " .. name) end
          local g = { name = name }
          groups[#groups + 1] = g
          local node = parse_alt()
          if peek() ~= 41 then err("not enough )'s") end
          pos = pos + 1
          return { t = "capture", group = g, node = node }
        end
        -- inline options (?imsx) or (?imsx:...)
        local flags = {}
        local on = true
        while peek() and peek() ~= 41 and peek() ~= 58 do
          local f = peek()
          if f == 45 then on = false
          elseif f == 105 or f == 109 or f == 115 or f == 120 or f == 110 then flags[#flags + 1] = { f, on }
          else err("unrecognized grouping construct") end
          pos = pos + 1
        end
        local function apply()
          for _, fl in ipairs(flags) do
            local bit = ({ [105] = OPT.IgnoreCase, [109] = OPT.Multiline, [115] = OPT.Singleline,
              [120] = OPT.IgnorePatternWhitespace, [110] = OPT.ExplicitCapture })[fl[1]]
            if fl[2] then opts = opts | bit else opts = opts & ~bit end
          end
          xmode = (opts & OPT.IgnorePatternWhitespace) ~= 0
          explicit = (opts & OPT.ExplicitCapture) ~= 0
        end
        if peek() == 41 then pos = pos + 1; apply(); return { t = "empty" } end
        pos = pos + 1
        local saved = opts
        apply()
        local node = parse_alt()
        opts = saved
        xmode = (opts & OPT.IgnorePatternWhitespace) ~= 0
        explicit = (opts & OPT.ExplicitCapture) ~= 0
        if peek() ~= 41 then err("not enough )'s") end
        pos = pos + 1
        return { t = "group", node = node }
      end
      local g
      if not explicit then g = {}; groups[#groups + 1] = g end
      local node = parse_alt()
      if peek() ~= 41 then err("not enough )'s") end
      pos = pos + 1
      if g then return { t = "capture", group = g, node = node } end
      return { t = "group", node = node }
    end
    local icase = (opts & OPT.IgnoreCase) ~= 0
    if c == 91 then pos = pos + 1; local cl = parse_class(); cl.icase = icase; return cl end
    if c == 46 then pos = pos + 1; return { t = "any", nl = (opts & OPT.Singleline) ~= 0 } end
    if c == 94 then pos = pos + 1; return { t = "bol", ml = (opts & OPT.Multiline) ~= 0 } end
    if c == 36 then pos = pos + 1; return { t = "eol", ml = (opts & OPT.Multiline) ~= 0 } end
    if c == 92 then
      pos = pos + 1
      local e = peek()
      if e == nil then err("illegal \\ at end of pattern") end
      local pred, neg = class_escape(e)
      if pred then pos = pos + 1; return { t = "class", items = { { pred = pred, neg = neg } }, negate = false } end
      if e == 98 then pos = pos + 1; return { t = "wordb", neg = false } end
      if e == 66 then pos = pos + 1; return { t = "wordb", neg = true } end
      if e == 65 then pos = pos + 1; return { t = "bos" } end
      if e == 122 then pos = pos + 1; return { t = "eos" } end
      if e == 90 then pos = pos + 1; return { t = "eol", ml = false } end
      if e == 71 then err("\\G is not supported") end
      if e == 107 and peek(1) == 60 then
        pos = pos + 2
        local name = {}
        while peek() and peek() ~= 62 do name[#name + 1] = utf8char(peek()); pos = pos + 1 end
        pos = pos + 1
        return { t = "backref", name = concat(name) }
      end
      if e and e >= 49 and e <= 57 then
        local num = 0
        while peek() and is_digit(peek()) do num = num * 10 + peek() - 48; pos = pos + 1 end
        return { t = "backref", num = num }
      end
      return { t = "char", c = escape_char(), icase = icase }
    end
    if c == 41 then err("too many )'s") end
    if c == 42 or c == 43 or c == 63 then err("quantifier following nothing") end
    pos = pos + 1
    return { t = "char", c = c, icase = icase }
  end

  local function parse_quant(atom)
    local c = peek()
    local min, max
    if c == 42 then min, max = 0, huge; pos = pos + 1
    elseif c == 43 then min, max = 1, huge; pos = pos + 1
    elseif c == 63 then min, max = 0, 1; pos = pos + 1
    elseif c == 123 then
      local save = pos
      pos = pos + 1
      local txt = {}
      while peek() and peek() ~= 125 do txt[#txt + 1] = utf8char(peek()); pos = pos + 1 end
      txt = concat(txt)
      local a, comma, b = match(txt, "^(%d+)(,?)(%d*)$")
      if not a or peek() ~= 125 then pos = save; return atom end
      pos = pos + 1
      min = tonumber(a)
      max = comma == "" and min or (b == "" and huge or tonumber(b))
      if max < min then err("illegal {x,y} with x > y") end
    else
      return atom
    end
    local lazy = false
    if peek() == 63 then lazy = true; pos = pos + 1 end
    if atom.t == "bol" or atom.t == "eol" or atom.t == "wordb" or atom.t == "look" then return atom end
    local q = { t = "quant", node = atom, min = min, max = max, lazy = lazy }
    local nc = peek()
    if nc == 42 or nc == 43 or nc == 63 or (nc == 123 and match(utf8char(peek(1) or 0), "%d")) then err("nested quantifier") end
    return q
  end

  local function skip_x()
    while xmode and peek() do
      local c = peek()
      if is_space(c) then pos = pos + 1
      elseif c == 35 then
        while peek() and peek() ~= 10 do pos = pos + 1 end
      else break end
    end
  end

  local function parse_seq()
    local items = {}
    while true do
      skip_x()
      local c = peek()
      if c == nil or c == 124 or c == 41 then break end
      local atom = parse_atom()
      skip_x()
      items[#items + 1] = parse_quant(atom)
    end
    return { t = "seq", items = items }
  end

  function parse_alt()
    local alts = { parse_seq() }
    while peek() == 124 do
      pos = pos + 1
      alts[#alts + 1] = parse_seq()
    end
    if #alts == 1 then return alts[1] end
    return { t = "alt", alts = alts }
  end

  local root = parse_alt()
  if pos <= n then err("too many )'s") end
  -- .NET numbers unnamed groups first, then named ones
  local names, count = {}, 0
  for _, g in ipairs(groups) do if not g.name then count = count + 1; g.num = count end end
  for _, g in ipairs(groups) do
    if g.name then
      if tonumber(g.name) then g.num = tonumber(g.name); if g.num > count then count = g.num end
      elseif names[g.name] then g.num = names[g.name].num
      else count = count + 1; g.num = count end
      names[g.name] = g
    end
  end
  return { root = root, ngroups = count, names = names, groups = groups }
end

-- matcher: continuation passing over code point arrays ------------------------

local function single_ok(node, c)
  local t = node.t
  if c == nil then return false end
  if t == "char" then
    if node.icase then return cp_lower(c) == cp_lower(node.c) end
    return c == node.c
  elseif t == "any" then
    return node.nl or c ~= 10
  elseif t == "class" then
    local hit = false
    local lc = node.icase and cp_lower(c)
    for _, it in ipairs(node.items) do
      if it.pred then
        local r = it.pred(c)
        if it.neg then r = not r end
        if r then hit = true; break end
      else
        if c >= it.lo and c <= it.hi then hit = true; break end
        if lc then
          if (lc >= cp_lower(it.lo) and lc <= cp_lower(it.hi)) or (c >= 97 and c <= 122 and c - 32 >= it.lo and c - 32 <= it.hi) then
            hit = true; break
          end
        end
      end
    end
    if node.negate then return not hit end
    return hit
  end
  return nil
end

local SINGLE = { char = true, any = true, class = true }

local m -- forward

local function m_seq(items, k, s, i, caps, cont)
  if k > #items then return cont(i, caps) end
  return m(items[k], s, i, caps, function(j, c2) return m_seq(items, k + 1, s, j, c2, cont) end)
end

local function with_cap(caps, num, a, b)
  local c2 = setmetatable({}, { __index = caps })
  c2[num] = { a, b }
  return c2
end

function m(node, s, i, caps, cont)
  local t = node.t
  local cps = s.cps
  if t == "char" or t == "any" or t == "class" then
    if single_ok(node, cps[i]) then return cont(i + 1, caps) end
    return nil
  elseif t == "seq" then
    return m_seq(node.items, 1, s, i, caps, cont)
  elseif t == "alt" then
    for _, a in ipairs(node.alts) do
      local r = m(a, s, i, caps, cont)
      if r then return r end
    end
    return nil
  elseif t == "group" then
    return m(node.node, s, i, caps, cont)
  elseif t == "capture" then
    local num = node.group.num
    return m(node.node, s, i, caps, function(j, c2) return cont(j, with_cap(c2, num, i, j)) end)
  elseif t == "quant" then
    local inner, min, max = node.node, node.min, node.max
    if SINGLE[inner.t] then
      -- count how far the single-character node repeats, then back off
      local j, count = i, 0
      while count < max and single_ok(inner, cps[j]) do j = j + 1; count = count + 1 end
      if count < min then return nil end
      if node.lazy then
        for c = min, count do
          local r = cont(i + c, caps)
          if r then return r end
        end
      else
        for c = count, min, -1 do
          local r = cont(i + c, caps)
          if r then return r end
        end
      end
      return nil
    end
    local function try(count, pos_, c2)
      if node.lazy then
        if count >= min then
          local r = cont(pos_, c2)
          if r then return r end
        end
        if count < max then
          return m(inner, s, pos_, c2, function(j, c3)
            if j == pos_ and count >= min then return nil end -- empty iteration
            return try(count + 1, j, c3)
          end)
        end
        return nil
      end
      if count < max then
        local r = m(inner, s, pos_, c2, function(j, c3)
          if j == pos_ then return nil end
          return try(count + 1, j, c3)
        end)
        if r then return r end
      end
      if count >= min then return cont(pos_, c2) end
      return nil
    end
    return try(0, i, caps)
  elseif t == "bol" then
    if i == 1 or (node.ml and cps[i - 1] == 10) then return cont(i, caps) end
    return nil
  elseif t == "eol" then
    local n = #cps
    if i == n + 1 or (i == n and cps[n] == 10) or (node.ml and cps[i] == 10) then return cont(i, caps) end
    return nil
  elseif t == "bos" then
    if i == 1 then return cont(i, caps) end
    return nil
  elseif t == "eos" then
    if i == #cps + 1 then return cont(i, caps) end
    return nil
  elseif t == "wordb" then
    local b = (is_word(cps[i - 1]) or false) ~= (is_word(cps[i]) or false)
    if b ~= node.neg then return cont(i, caps) end
    return nil
  elseif t == "look" then
    local found
    if node.behind then
      for j = i, 1, -1 do
        found = m(node.node, s, j, caps, function(e, c2) if e == i then return c2 end return nil end)
        if found then break end
      end
    else
      found = m(node.node, s, i, caps, function(_, c2) return c2 end)
    end
    if node.neg then
      if found then return nil end
      return cont(i, caps)
    end
    if not found then return nil end
    return cont(i, found)
  elseif t == "backref" then
    local num = node.num
    if node.name then
      local g = s.re.names[node.name]
      if not g then regex_error(s.re.pattern, "reference to undefined group name " .. node.name) end
      num = g.num
    end
    local cap = caps[num]
    if not cap then return nil end
    local len = cap[2] - cap[1]
    for k = 0, len - 1 do
      local a, b = cps[cap[1] + k], cps[i + k]
      if b == nil then return nil end
      if s.icase then a, b = cp_lower(a), cp_lower(b) end
      if a ~= b then return nil end
    end
    return cont(i + len, caps)
  elseif t == "empty" then
    return cont(i, caps)
  end
  error("regex: unknown node " .. tostring(t))
end

-- compiled patterns, cached by text and options
local cache, cache_n = {}, 0
local function compile(pattern, options)
  pattern = need_string(pattern, "pattern")
  local opts = 0
  if type(options) == "table" and options.enum_type == "RegexOptions" then opts = options.value end
  if (opts & OPT.RightToLeft) ~= 0 then throw("NotSupportedException", "RegexOptions.RightToLeft is not supported") end
  local key = opts .. "\0" .. pattern
  local re = cache[key]
  if re then return re end
  re = parse(pattern, opts)
  re.pattern, re.opts = pattern, opts
  if cache_n > 256 then cache, cache_n = {}, 0 end
  cache[key] = re
  cache_n = cache_n + 1
  return re
end

local function subject(input, re)
  input = need_string(input, "input")
  local cps, offs = {}, {}
  local n = 0
  for p, c in utf8codes(input) do n = n + 1; cps[n] = c; offs[n] = p end
  offs[n + 1] = #input + 1
  return { cps = cps, offs = offs, text = input, re = re, icase = (re.opts & OPT.IgnoreCase) ~= 0 }
end

local function slice(s, a, b) return sub(s.text, s.offs[a], s.offs[b] - 1) end

local function mkgroup(s, cap, name)
  if not cap then return setmetatable({ success = false, index = 0, value = "", name = name }, GroupC) end
  return setmetatable({ success = true, index = cap[1] - 1, value = slice(s, cap[1], cap[2]), name = name }, GroupC)
end

-- first match at or after character index `start` (1-based) -> Match
local function exec(re, s, start)
  local n = #s.cps
  for i = start, n + 1 do
    local caps = m(re.root, s, i, {}, function(j, c2)
      local final = setmetatable({}, { __index = c2 })
      final[0] = { i, j }
      return final
    end)
    if caps then
      return setmetatable({ re = re, s = s, caps = caps, success = true,
        index = caps[0][1] - 1, value = slice(s, caps[0][1], caps[0][2]), stop = caps[0][2],
        empty = caps[0][1] == caps[0][2] }, MatchC)
    end
  end
  return setmetatable({ re = re, s = s, caps = {}, success = false, index = 0, value = "" }, MatchC)
end

local function all_matches(re, input)
  local s = subject(input, re)
  local out, start = {}, 1
  while start <= #s.cps + 1 do
    local mt = exec(re, s, start)
    if not mt.success then break end
    out[#out + 1] = mt
    start = mt.empty and mt.stop + 1 or mt.stop
  end
  return out, s
end

GroupC.props.Success = function(g) return g.success end
GroupC.props.Value = function(g) return g.value end
GroupC.props.Index = function(g) return g.index end
GroupC.props.Length = function(g) return slen(g.value) end
GroupC.props.Name = function(g) return g.name end
GroupC.tostring = function(g) return g.value end

MatchC.props.Success = GroupC.props.Success
MatchC.props.Value = GroupC.props.Value
MatchC.props.Index = GroupC.props.Index
MatchC.props.Length = GroupC.props.Length
MatchC.tostring = GroupC.tostring
MatchC.props.Groups = function(mt) return setmetatable({ mt = mt }, GroupCollection) end
MatchC.methods.NextMatch = function(mt)
  if not mt.success then return mt end
  local start = mt.empty and mt.stop + 1 or mt.stop
  if start > #mt.s.cps + 1 then
    return setmetatable({ re = mt.re, s = mt.s, caps = {}, success = false, index = 0, value = "" }, MatchC)
  end
  return exec(mt.re, mt.s, start)
end
MatchC.methods.ToString = function(mt) return mt.value end

GroupCollection.index = function(gc, k)
  local mt = gc.mt
  local num, name = k, nil
  if type(k) == "string" then
    local g = mt.re.names[k]
    name = k
    if g then num = g.num
    elseif tonumber(k) then num = tonumber(k)
    else return mkgroup(mt.s, nil, k) end
  end
  if not mt.success then return mkgroup(mt.s, nil, name) end
  return mkgroup(mt.s, mt.caps[num], name)
end
GroupCollection.props.Count = function(gc) return gc.mt.re.ngroups + 1 end
GroupCollection.iter = function(gc)
  local i = -1
  return function()
    i = i + 1
    if i <= gc.mt.re.ngroups then return i + 1, GroupCollection.index(gc, i) end
  end
end
GroupCollection.methods.ContainsKey = function(gc, k) return gc.mt.re.names[k] ~= nil end
GroupCollection.methods.TryGetValue = function(gc, k)
  if gc.mt.re.names[k] == nil then return false, nil end
  return true, GroupCollection.index(gc, k)
end

MatchCollection.props.Count = function(mc) return #mc.list end
MatchCollection.index = function(mc, i)
  if mtype(i) ~= "integer" or i < 0 or i >= #mc.list then out_of_range("i", "Specified argument was out of the range of valid values.") end
  return mc.list[i + 1]
end
MatchCollection.iter = function(mc)
  local i = 0
  return function()
    i = i + 1
    if mc.list[i] then return i, mc.list[i] end
  end
end

-- replacement text: $1 ${name} $0 $& $$ $` $' $+ $_
local function expand(mt, repl)
  return (gsub(repl, "%$(%b{})", function(b)
    local name = sub(b, 2, -2)
    return "\0G" .. name .. "\0"
  end):gsub("%$(%d+)", "\0G%1\0"):gsub("%$%$", "\0D\0"):gsub("%$&", "\0G0\0")
    :gsub("%$`", "\0B\0"):gsub("%$'", "\0A\0"):gsub("%$_", "\0I\0"):gsub("%z(%a)(.-)%z", function(kind, arg)
      if kind == "D" then return "$" end
      if kind == "B" then return slice(mt.s, 1, mt.index + 1) end
      if kind == "A" then return slice(mt.s, mt.stop, #mt.s.cps + 1) end
      if kind == "I" then return mt.s.text end
      local g = GroupCollection.index(setmetatable({ mt = mt }, GroupCollection), tonumber(arg) or arg)
      return g.value
    end))
end

local function replace(re, input, repl, count)
  local list, s = all_matches(re, input)
  local out, last = {}, 1
  for k, mt in ipairs(list) do
    if count and count >= 0 and k > count then break end
    out[#out + 1] = slice(s, last, mt.index + 1)
    if type(repl) == "function" then out[#out + 1] = str(repl(mt))
    else out[#out + 1] = expand(mt, need_string(repl, "replacement")) end
    last = mt.stop
  end
  out[#out + 1] = slice(s, last, #s.cps + 1)
  return concat(out)
end

local function split(re, input)
  local list, s = all_matches(re, input)
  local out, last = {}, 1
  for _, mt in ipairs(list) do
    if not (mt.empty and (mt.index == 0 or mt.stop > #s.cps)) then
      out[#out + 1] = slice(s, last, mt.index + 1)
      for g = 1, re.ngroups do
        if mt.caps[g] then out[#out + 1] = slice(s, mt.caps[g][1], mt.caps[g][2]) end
      end
      last = mt.stop
    end
  end
  out[#out + 1] = slice(s, last, #s.cps + 1)
  return new_array(out, #out)
end

RegexC.tostring = function(r) return r.re.pattern end
RegexC.methods.IsMatch = function(r, input, start)
  return exec(r.re, subject(input, r.re), (start or 0) + 1).success
end
RegexC.methods.Match = function(r, input, start) return exec(r.re, subject(input, r.re), (start or 0) + 1) end
RegexC.methods.Matches = function(r, input)
  return setmetatable({ list = (all_matches(r.re, input)) }, MatchCollection)
end
RegexC.methods.Replace = function(r, input, repl, count) return replace(r.re, input, repl, count) end
RegexC.methods.Split = function(r, input) return split(r.re, input) end
RegexC.methods.GetGroupNames = function(r)
  local out = { "0" }
  for i = 1, r.re.ngroups do
    local name = tostring(i)
    for nm, g in pairs(r.re.names) do if g.num == i then name = nm end end
    out[#out + 1] = name
  end
  return new_array(out, #out)
end

NEW.Regex = function(pattern, options) return setmetatable({ re = compile(pattern, options) }, RegexC) end

-- for the translator: a literal pattern is checked when the expression loads
M.regex_check = function(pattern, options) compile(pattern, options) end

local REGEX_SPECIAL = "[%\\%*%+%?%|%{%[%(%)%^%$%.%#% \t\n\r\f]"
T.Regex = {
  IsMatch = function(input, pattern, options) return exec(compile(pattern, options), subject(input, compile(pattern, options)), 1).success end,
  Match = function(input, pattern, options)
    local re = compile(pattern, options)
    return exec(re, subject(input, re), 1)
  end,
  Matches = function(input, pattern, options)
    return setmetatable({ list = (all_matches(compile(pattern, options), input)) }, MatchCollection)
  end,
  Replace = function(input, pattern, repl, options) return replace(compile(pattern, options), input, repl) end,
  Split = function(input, pattern, options) return split(compile(pattern, options), input) end,
  Escape = function(s)
    return (gsub(need_string(s, "str"), REGEX_SPECIAL, function(c)
      if c == "\t" then return "\\t" end
      if c == "\n" then return "\\n" end
      if c == "\r" then return "\\r" end
      if c == "\f" then return "\\f" end
      return "\\" .. c
    end))
  end,
  Unescape = function(s)
    return (gsub(need_string(s, "str"), "\\(.)", function(c)
      return ({ t = "\t", n = "\n", r = "\r", f = "\f" })[c] or c
    end))
  end,
}
ENUMERABLE[MatchCollection] = true
ENUMERABLE[GroupCollection] = true

return {}
