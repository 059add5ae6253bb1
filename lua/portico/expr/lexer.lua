-- expr/lexer.lua - the C# lexer of the expression translator: C# text -> tokens.
--
-- Owns: tokens { t = "id"|"num"|"str"|"chr"|"istr"|"op"|"eof", v = value, p = offset }:
-- names (and @verbatim names), numbers (hex, binary, suffixes, digit separators),
-- regular, verbatim and interpolated strings (the holes of $"..." are lexed as C#
-- here, up to their format and alignment), char literals, escapes, operators,
-- comments and Unicode whitespace; lexical errors and the constructs refused here
-- (raw strings, preprocessor directives).
--
-- Does not own: the grammar (parser.lua), error positions (errors.lua).

local find, sub, gsub, match = string.find, string.sub, string.gsub, string.match
local concat = table.concat
local tonumber = tonumber

local errors = require "portico.expr.errors"
local fail, unsupported = errors.fail, errors.unsupported

------------------------------------------------------------------------------
-- lexer: token = { t = "id"|"num"|"str"|"chr"|"istr"|"op"|"eof", v = value, p = offset }

local OPS3 = { [">>="] = true, ["<<="] = true, ["??="] = true }
local OPS2 = {
  ["=>"] = true, ["=="] = true, ["!="] = true, ["<="] = true, [">="] = true, ["&&"] = true,
  ["||"] = true, ["++"] = true, ["--"] = true, ["+="] = true, ["-="] = true, ["*="] = true,
  ["/="] = true, ["%="] = true, ["&="] = true, ["|="] = true, ["^="] = true, ["<<"] = true,
  ["??"] = true, ["::"] = true, ["->"] = true,
}
local OPS1 = "{}()[].,:;+-*/%&|^!~=<>?"

local function utf8_of(cp) return utf8.char(cp) end

-- One escape sequence of a regular string or char literal at src[i] == "\\".
local SIMPLE_ESC = { ["'"] = "'", ['"'] = '"', ["\\"] = "\\", ["0"] = "\0", a = "\a", b = "\b",
  f = "\f", n = "\n", r = "\r", t = "\t", v = "\v" }
local function read_escape(src, i)
  local c = sub(src, i + 1, i + 1)
  if SIMPLE_ESC[c] then return SIMPLE_ESC[c], i + 2 end
  if c == "u" then
    local h = match(src, "^%x%x%x%x", i + 2)
    if not h then fail(i, "C# syntax error: bad \\u escape") end
    local cp = tonumber(h, 16)
    -- a surrogate pair written as two \u escapes
    if cp >= 0xD800 and cp <= 0xDBFF then
      local lo = match(src, "^\\u(%x%x%x%x)", i + 6)
      lo = lo and tonumber(lo, 16)
      if lo and lo >= 0xDC00 and lo <= 0xDFFF then
        return utf8_of(0x10000 + (cp - 0xD800) * 0x400 + (lo - 0xDC00)), i + 12
      end
    end
    return utf8_of(cp), i + 6
  elseif c == "U" then
    local h = match(src, "^%x%x%x%x%x%x%x%x", i + 2)
    if not h then fail(i, "C# syntax error: bad \\U escape") end
    return utf8_of(tonumber(h, 16)), i + 10
  elseif c == "x" then
    local h = match(src, "^%x%x?%x?%x?", i + 2)
    if not h then fail(i, "C# syntax error: bad \\x escape") end
    return utf8_of(tonumber(h, 16)), i + 2 + #h
  end
  fail(i, "C# syntax error: unknown escape sequence '\\" .. c .. "'")
end

local next_token -- forward

-- The holes of an interpolated string: tokens up to ':' (format), ',' (alignment)
-- or '}' at bracket depth 0, lexed as C#.
local function lex_hole(src, i)
  local toks, depth = {}, 0
  local hole = { p = i }
  local cur = toks
  while true do
    local tok, ni = next_token(src, i)
    if tok.t == "eof" then fail(hole.p, "C# syntax error: unterminated interpolation hole") end
    if tok.t == "op" then
      local v = tok.v
      if v == "(" or v == "[" or v == "{" then depth = depth + 1
      elseif v == ")" or v == "]" then depth = depth - 1
      elseif v == "}" then
        if depth == 0 then
          cur[#cur + 1] = { t = "eof", p = tok.p }
          hole.toks = toks
          return hole, ni
        end
        depth = depth - 1
      elseif v == "," and depth == 0 and cur == toks then
        cur[#cur + 1] = { t = "eof", p = tok.p }
        hole.align = {}
        cur = hole.align
        tok = nil
      elseif (v == ":" or v == "::") and depth == 0 then
        cur[#cur + 1] = { t = "eof", p = tok.p }
        local close = find(src, "}", tok.p + 1, true)
        if not close then fail(tok.p, "C# syntax error: unterminated interpolation format") end
        hole.fmt = sub(src, tok.p + 1, close - 1)
        if v == "::" then hole.fmt = ":" .. hole.fmt end
        hole.toks = toks
        return hole, close + 1
      end
    end
    if tok then cur[#cur + 1] = tok end
    i = ni
  end
end

local function lex_interpolated(src, i, verbatim, p)
  -- i: just after the opening quote
  local parts, buf = {}, {}
  local n = #src
  while true do
    if i > n then fail(p, "C# syntax error: unterminated interpolated string") end
    local c = sub(src, i, i)
    if c == '"' then
      if verbatim and sub(src, i + 1, i + 1) == '"' then buf[#buf + 1] = '"'; i = i + 2
      else
        if #buf > 0 then parts[#parts + 1] = concat(buf) end
        return { t = "istr", v = parts, p = p }, i + 1
      end
    elseif c == "{" then
      if sub(src, i + 1, i + 1) == "{" then buf[#buf + 1] = "{"; i = i + 2
      else
        if #buf > 0 then parts[#parts + 1] = concat(buf); buf = {} end
        local hole
        hole, i = lex_hole(src, i + 1)
        parts[#parts + 1] = hole
      end
    elseif c == "}" then
      if sub(src, i + 1, i + 1) == "}" then buf[#buf + 1] = "}"; i = i + 2
      else fail(i, "C# syntax error: '}' in an interpolated string must be written '}}'") end
    elseif c == "\\" and not verbatim then
      local s
      s, i = read_escape(src, i)
      buf[#buf + 1] = s
    elseif c == "\n" and not verbatim then
      fail(p, "C# syntax error: newline in interpolated string")
    else
      buf[#buf + 1] = c
      i = i + 1
    end
  end
end

local function lex_string(src, i, verbatim, p)
  local buf, n = {}, #src
  while true do
    if i > n then fail(p, "C# syntax error: unterminated string literal") end
    local c = sub(src, i, i)
    if c == '"' then
      if verbatim and sub(src, i + 1, i + 1) == '"' then buf[#buf + 1] = '"'; i = i + 2
      else return { t = "str", v = concat(buf), p = p }, i + 1 end
    elseif c == "\\" and not verbatim then
      local s
      s, i = read_escape(src, i)
      buf[#buf + 1] = s
    elseif c == "\n" and not verbatim then
      fail(p, "C# syntax error: newline in string literal")
    else
      -- copy a run of plain characters at once
      local j = find(src, verbatim and '["]' or '["\\\n]', i)
      j = j or n + 1
      buf[#buf + 1] = sub(src, i, j - 1)
      i = j
    end
  end
end

local function lex_number(src, i)
  local p = i
  local hex = match(src, "^0[xX]([%x_]+)", i)
  if hex then
    local j = i + 2 + #hex
    local suffix = match(src, "^[uUlL]*", j)
    local v = tonumber((gsub(hex, "_", "")), 16)
    return { t = "num", v = v, int = true, p = p }, j + #suffix
  end
  local bin = match(src, "^0[bB]([01_]+)", i)
  if bin then
    local j = i + 2 + #bin
    local suffix = match(src, "^[uUlL]*", j)
    return { t = "num", v = tonumber((gsub(bin, "_", "")), 2), int = true, p = p }, j + #suffix
  end
  local digits = match(src, "^[%d_]*", i)
  local j = i + #digits
  local isint = true
  local frac = match(src, "^%.%d[%d_]*", j)
  if frac then j = j + #frac; isint = false end
  local ex = match(src, "^[eE][+-]?%d+", j)
  if ex then j = j + #ex; isint = false end
  local text = gsub(sub(src, i, j - 1), "_", "")
  local suffix = match(src, "^[fFdDmM]", j)
  if suffix then j = j + 1; isint = false
  else
    suffix = match(src, "^[uUlL]+", j)
    if suffix then j = j + #suffix end
  end
  if isint then
    local v = math.tointeger(tonumber(text))
    if not v then fail(p, "C# syntax error: integer literal too large") end
    return { t = "num", v = v, int = true, p = p }, j
  end
  return { t = "num", v = tonumber(text) + 0.0, int = false, p = p }, j
end

function next_token(src, i)
  local n = #src
  while true do
    local _, e = find(src, "^%s+", i)
    if e then i = e + 1 end
    -- no-break space, BOM and the other Unicode spaces count as whitespace in C#
    local u = match(src, "^\194\160", i) or match(src, "^\239\187\191", i) or match(src, "^\226\128[\128-\138\168\169\175]", i)
      or match(src, "^\226\129\159", i) or match(src, "^\227\128\128", i)
    if u then
      i = i + #u
    elseif
    sub(src, i, i + 1) == "//" then
      local nl = find(src, "\n", i, true)
      i = nl and nl + 1 or n + 1
    elseif sub(src, i, i + 1) == "/*" then
      local _, ce = find(src, "*/", i + 2, true)
      if not ce then fail(i, "C# syntax error: unterminated comment") end
      i = ce + 1
    else
      break
    end
  end
  if i > n then return { t = "eof", p = n + 1 }, i end
  local c = sub(src, i, i)
  local id = match(src, "^[%a_][%w_]*", i)
  if id then return { t = "id", v = id, p = i }, i + #id end
  if c == "@" then
    local nx = sub(src, i + 1, i + 1)
    if nx == '"' then return lex_string(src, i + 2, true, i) end
    if nx == "$" and sub(src, i + 2, i + 2) == '"' then return lex_interpolated(src, i + 3, true, i) end
    local vid = match(src, "^[%a_][%w_]*", i + 1)
    if vid then return { t = "id", v = vid, verbatim = true, p = i }, i + 1 + #vid end
  elseif c == "$" then
    if sub(src, i + 1, i + 1) == '"' then return lex_interpolated(src, i + 2, false, i) end
    if sub(src, i + 1, i + 2) == '@"' then return lex_interpolated(src, i + 3, true, i) end
    if sub(src, i + 1, i + 1) == "$" then
      unsupported(i, '$$"', "raw interpolated strings are not supported")
    end
  elseif c == '"' then
    if sub(src, i, i + 2) == '"""' then
      unsupported(i, '"""', "raw string literals are not supported")
    end
    return lex_string(src, i + 1, false, i)
  elseif c == "'" then
    local v, j
    if sub(src, i + 1, i + 1) == "\\" then v, j = read_escape(src, i + 1)
    else
      local ch = match(src, "^[%z\1-\127\194-\244][\128-\191]*", i + 1)
      v, j = ch, i + 1 + #(ch or "")
    end
    if not v or sub(src, j, j) ~= "'" then fail(i, "C# syntax error: bad character literal") end
    return { t = "chr", v = v, p = i }, j + 1
  elseif find(c, "%d") or (c == "." and find(sub(src, i + 1, i + 1), "%d")) then
    return lex_number(src, i)
  elseif c == "#" then
    unsupported(i, "#", "preprocessor directives are not supported")
  end
  local three = sub(src, i, i + 2)
  if OPS3[three] then return { t = "op", v = three, p = i }, i + 3 end
  local two = sub(src, i, i + 1)
  if two == "?." and not find(sub(src, i + 2, i + 2), "%d") then
    return { t = "op", v = "?.", p = i }, i + 2
  end
  if OPS2[two] then return { t = "op", v = two, p = i }, i + 2 end
  if find(OPS1, c, 1, true) then return { t = "op", v = c, p = i }, i + 1 end
  fail(i, "C# syntax error: unexpected character '" .. c .. "'")
end

local function lex(src)
  local toks, i = {}, 1
  while true do
    local tok
    tok, i = next_token(src, i)
    toks[#toks + 1] = tok
    if tok.t == "eof" then return toks end
  end
end

return { lex = lex }
