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

local rt = require "portico.csharp"

local byte, char, find, format, sub, rep, gsub, match =
  string.byte, string.char, string.find, string.format, string.sub, string.rep,
  string.gsub, string.match
local concat, insert = table.concat, table.insert
local type, error, pairs, ipairs, tostring, tonumber, setmetatable, pcall, load =
  type, error, pairs, ipairs, tostring, tonumber, setmetatable, pcall, load

local M = {}

------------------------------------------------------------------------------
-- errors: raised as tables inside, turned into "where: message" by translate

local function fail(p, msg)
  error({ expr_error = true, p = p, msg = msg }, 0)
end

local function unsupported(p, what, hint)
  fail(p, format("unsupported C# construct '%s' (%s)", what, hint))
end

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

------------------------------------------------------------------------------
-- types: names normalised so that `System.String`, `String` and `string` agree

local ALIAS = {
  String = "string", Int32 = "int", Int64 = "long", Int16 = "short", Byte = "byte",
  SByte = "sbyte", Boolean = "bool", Double = "double", Single = "float", Decimal = "decimal",
  Object = "object", Char = "char", UInt32 = "uint", UInt64 = "ulong", UInt16 = "ushort",
}
local NAMESPACES = {}
for _, ns in ipairs({ "System", "System.Collections", "System.Collections.Generic", "System.Linq",
  "System.Text", "System.Net", "System.Security.Cryptography", "System.Text.RegularExpressions",
  "System.Globalization", "Newtonsoft.Json", "Newtonsoft.Json.Linq", "System.Xml",
  "System.Xml.Linq", "System.IO", "System.Web", "Microsoft.IdentityModel.Tokens" }) do
  NAMESPACES[ns] = true
end
local KEYWORD_TYPES = {
  string = true, int = true, long = true, short = true, byte = true, sbyte = true, bool = true,
  double = true, float = true, decimal = true, object = true, char = true, uint = true,
  ulong = true, ushort = true, var = true, dynamic = true, void = true,
}
local NUMERIC = { int = true, long = true, short = true, byte = true, sbyte = true, uint = true,
  ulong = true, ushort = true, double = true, float = true, decimal = true }
local INTEGRAL = { int = true, long = true, short = true, byte = true, sbyte = true, uint = true,
  ulong = true, ushort = true }

-- "System.Text.Encoding" -> "Encoding"; "Int32" -> "int"
local function canon_name(dotted)
  local ns, last = match(dotted, "^(.*)%.([^.]+)$")
  if ns then
    if not NAMESPACES[ns] then return dotted end
    dotted = last
  end
  return ALIAS[dotted] or dotted
end

-- What the translator knows about types, beyond their names: `static` members for
-- Type.Member (m = method, p = property read through a function, v = value field,
-- lua = inline Lua, enum = enumeration value), and how casts to the type translate.
local T = {}
M.TYPES = T

local function statics(list)
  local s = {}
  for name, kind in pairs(list) do s[name] = kind end
  return s
end

T.string = { rt = "String", cast = "convert", static = statics {
  Empty = { lua = '""', type = "string", nonnil = true },
  IsNullOrEmpty = { m = true, type = "bool" }, IsNullOrWhiteSpace = { m = true, type = "bool" },
  Format = { m = true, type = "string", nonnil = true }, Join = { m = true, type = "string", nonnil = true },
  Concat = { m = true, type = "string", nonnil = true }, Equals = { m = true, type = "bool" },
  Compare = { m = true, type = "int" }, CompareOrdinal = { m = true, type = "int" },
} }
local function numeric_type(rtname, lo, hi, extra, kind)
  local s = {
    Parse = { m = true, type = kind, nonnil = true }, TryParse = { m = true, type = "bool" },
    MaxValue = { lua = hi }, MinValue = { lua = lo },
  }
  for k, v in pairs(extra or {}) do s[k] = v end
  return { rt = rtname, cast = "convert", static = s }
end
T.int = numeric_type("Int32", "-2147483648", "2147483647", nil, "int")
T.long = numeric_type("Int64", "math.mininteger", "9223372036854775807", nil, "long")
T.long.static.MinValue = { lua = "(-9223372036854775807 - 1)" }
T.short = numeric_type("Int16", "-32768", "32767")
T.byte = numeric_type("Byte", "0", "255")
T.sbyte = numeric_type("SByte", "-128", "127")
T.uint = numeric_type("UInt32", "0", "4294967295")
T.ushort = numeric_type("UInt16", "0", "65535")
T.ulong = numeric_type("UInt64", "0", "-1")
T.double = numeric_type("Double", "-1.7976931348623157e308", "1.7976931348623157e308", {
  IsNaN = { m = true, type = "bool" }, NaN = { lua = "(0.0/0.0)" },
  PositiveInfinity = { lua = "(1.0/0.0)" }, NegativeInfinity = { lua = "(-1.0/0.0)" },
  Epsilon = { lua = "4.9406564584124654e-324" } }, "double")
T.float = numeric_type("Double", "-3.4028234663852886e38", "3.4028234663852886e38")
T.decimal = numeric_type("Double", "-7.9228162514264337593543950335e28", "7.9228162514264337593543950335e28")
T.bool = { rt = "Boolean", cast = "convert", static = statics {
  Parse = { m = true, type = "bool" }, TryParse = { m = true, type = "bool" },
  TrueString = { lua = '"True"' }, FalseString = { lua = '"False"' },
} }
T.char = { rt = "Char", cast = "convert", static = statics {
  IsDigit = { m = true, type = "bool" }, IsLetter = { m = true, type = "bool" },
  IsLetterOrDigit = { m = true, type = "bool" }, IsWhiteSpace = { m = true, type = "bool" },
  IsUpper = { m = true, type = "bool" }, IsLower = { m = true, type = "bool" },
  ToUpper = { m = true, type = "char" }, ToLower = { m = true, type = "char" },
} }
T.object = { cast = "none", static = statics { Equals = { m = true, type = "bool" },
  ReferenceEquals = { m = true, type = "bool" } } }
T.dynamic = { cast = "none" }
T.Convert = { rt = "Convert", static = statics {
  ToBase64String = { m = true, type = "string", nonnil = true }, FromBase64String = { m = true },
  ToInt32 = { m = true, type = "int" }, ToInt64 = { m = true, type = "long" },
  ToInt16 = { m = true, type = "short" }, ToByte = { m = true, type = "byte" },
  ToDouble = { m = true, type = "double" }, ToDecimal = { m = true, type = "double" },
  ToSingle = { m = true, type = "double" }, ToBoolean = { m = true, type = "bool" },
  ToString = { m = true, type = "string" }, ToChar = { m = true, type = "char" },
  ToDateTime = { m = true }, ToHexString = { m = true, type = "string", nonnil = true },
  FromHexString = { m = true },
} }
T.Math = { rt = "Math", static = statics {
  Min = { m = true }, Max = { m = true }, Abs = { m = true }, Floor = { m = true, type = "double" },
  Ceiling = { m = true, type = "double" }, Round = { m = true, type = "double" },
  Truncate = { m = true, type = "double" }, Pow = { m = true, type = "double" },
  Sqrt = { m = true, type = "double" }, Sign = { m = true, type = "int" },
  Log = { m = true, type = "double" }, Log10 = { m = true, type = "double" },
  Exp = { m = true, type = "double" },
  PI = { lua = "3.141592653589793", type = "double" }, E = { lua = "2.718281828459045", type = "double" },
} }
T.Guid = { rt = "Guid", cast = "check", static = statics {
  NewGuid = { m = true }, Parse = { m = true }, TryParse = { m = true, type = "bool" },
  Empty = { p = true },
} }
T.DateTime = { rt = "DateTime", cast = "check", static = statics {
  UtcNow = { p = true }, Now = { p = true }, Today = { p = true }, UnixEpoch = { p = true },
  MinValue = { p = true }, MaxValue = { p = true },
  Parse = { m = true }, TryParse = { m = true, type = "bool" }, ParseExact = { m = true },
  SpecifyKind = { m = true }, DaysInMonth = { m = true, type = "int" },
  IsLeapYear = { m = true, type = "bool" },
} }
T.DateTimeOffset = { rt = "DateTimeOffset", cast = "convert", static = statics {
  UtcNow = { p = true }, Now = { p = true }, UnixEpoch = { p = true },
  MinValue = { p = true }, MaxValue = { p = true },
  FromUnixTimeSeconds = { m = true }, FromUnixTimeMilliseconds = { m = true },
  Parse = { m = true }, TryParse = { m = true, type = "bool" },
} }
T.TimeSpan = { rt = "TimeSpan", cast = "check", static = statics {
  FromSeconds = { m = true }, FromMinutes = { m = true }, FromHours = { m = true },
  FromDays = { m = true }, FromMilliseconds = { m = true }, FromTicks = { m = true },
  Zero = { p = true }, Parse = { m = true },
} }
T.Encoding = { rt = "Encoding", static = statics {
  UTF8 = { v = true }, ASCII = { v = true }, Default = { v = true }, Unicode = { v = true },
} }
T.Uri = { rt = "Uri", cast = "check", static = statics {
  EscapeDataString = { m = true, type = "string", nonnil = true },
  UnescapeDataString = { m = true, type = "string", nonnil = true },
  EscapeUriString = { m = true, type = "string", nonnil = true },
  IsWellFormedUriString = { m = true, type = "bool" }, TryCreate = { m = true, type = "bool" },
} }
T.WebUtility = { rt = "WebUtility", static = statics {
  UrlEncode = { m = true, type = "string" }, UrlDecode = { m = true, type = "string" },
  HtmlEncode = { m = true, type = "string" }, HtmlDecode = { m = true, type = "string" },
} }
T.HttpUtility = T.WebUtility
T.JObject = { rt = "JObject", cast = "check", static = statics {
  Parse = { m = true }, FromObject = { m = true },
} }
T.JArray = { rt = "JArray", cast = "check", static = statics {
  Parse = { m = true }, FromObject = { m = true },
} }
T.JToken = { rt = "JToken", cast = "check", static = statics {
  Parse = { m = true }, FromObject = { m = true },
} }
T.JValue = { rt = "JValue", cast = "check", static = statics { CreateNull = { m = true } } }
T.JProperty = { rt = "JProperty", cast = "check", static = {} }
T.JsonConvert = { rt = "JsonConvert", static = statics {
  SerializeObject = { m = true, type = "string", nonnil = true },
  DeserializeObject = { m = true, generic = true },
} }
T.Array = { rt = "Array", static = statics {
  Exists = { m = true, type = "bool" }, IndexOf = { m = true, type = "int" },
  Copy = { m = true }, Reverse = { m = true }, Sort = { m = true }, Find = { m = true },
  Empty = { m = true, generic = true }, Resize = { m = true },
} }
T.Enumerable = { rt = "Enumerable", static = statics {
  Range = { m = true }, Repeat = { m = true }, Empty = { m = true, generic = true },
} }
T.Regex = { rt = "Regex", cast = "check", static = statics {
  IsMatch = { m = true, type = "bool" }, Match = { m = true }, Matches = { m = true },
  Replace = { m = true, type = "string", nonnil = true }, Split = { m = true },
  Escape = { m = true, type = "string", nonnil = true }, Unescape = { m = true, type = "string", nonnil = true },
} }
T.BitConverter = { rt = "BitConverter", static = statics {
  ToInt32 = { m = true, type = "int" }, ToString = { m = true, type = "string" },
  GetBytes = { m = true }, IsLittleEndian = { lua = "true", type = "bool" },
} }
T.SHA256 = { rt = "SHA256", static = statics { Create = { m = true }, HashData = { m = true } } }
T.SHA1 = { rt = "SHA1", static = statics { Create = { m = true }, HashData = { m = true } } }
T.HMACSHA256 = { rt = "HMACSHA256", static = statics { HashData = { m = true } } }
T.HMACSHA1 = { rt = "HMACSHA1", static = statics { HashData = { m = true } } }

-- enumerations: Type.Name -> rt.E.Type.Name (the list is the runtime's)
local ENUMS = rt.E
for name, values in pairs(ENUMS) do
  local s = {}
  for v in pairs(values) do s[v] = { enum = true } end
  T[name] = T[name] or { rt = name, static = s }
  T[name].enum = name
  T[name].static = s
end
T.CultureInfo = { rt = "CultureInfo", static = statics {
  InvariantCulture = { lua = "nil" }, CurrentCulture = { lua = "nil" },
} }

-- types `new` may create (rt.new(name, ...)); the generic argument list is dropped
local NEW = {
  JObject = true, JArray = true, JProperty = true, JValue = true, List = true, Dictionary = true,
  HashSet = true, StringBuilder = true, Random = true, Uri = true, DateTime = true,
  DateTimeOffset = true, TimeSpan = true, Guid = true, HMACSHA256 = true, HMACSHA1 = true,
  Regex = true, KeyValuePair = true, Exception = true, ArgumentException = true,
  ArgumentNullException = true, ArgumentOutOfRangeException = true, FormatException = true,
  InvalidOperationException = true, InvalidCastException = true, NotSupportedException = true,
  NotImplementedException = true, KeyNotFoundException = true, ApplicationException = true,
  JsonReaderException = true, string = true, object = true,
}
-- types a value may be cast to, tested with is/as, or declared with, without
-- being fully modelled: casts to them pass the value through unchanged
local OPAQUE = {
  IResponse = true, IRequest = true, IMessage = true, IUrl = true, IMessageBody = true,
  IHeaderDictionary = true, IReadOnlyDictionary = true, IDictionary = true, IEnumerable = true,
  IList = true, ICollection = true, IReadOnlyList = true, IReadOnlyCollection = true,
  IApi = true, IOperation = true, IProduct = true, ISubscription = true, IUser = true,
  IGroup = true, IDeployment = true, ILastError = true, IProxyRequestContext = true,
  IContext = true, Jwt = true, Func = true, Action = true, Match = true, Group = true,
  MatchCollection = true, GroupCollection = true,
  Exception = true, List = true, Dictionary = true, HashSet = true, StringBuilder = true,
  Random = true, KeyValuePair = true, JProperty = true, JValue = true, HMACSHA256 = true,
  HMACSHA1 = true, SHA256 = true, SHA1 = true, Regex = true, Encoding = true,
  DateTimeKind = true, StringComparison = true, CultureInfo = true, Lazy = true,
  IFormatProvider = true, DayOfWeek = true,
}
for name in pairs(rt.EXCEPTION_TYPES or {}) do OPAQUE[name] = true; NEW[name] = true end

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

------------------------------------------------------------------------------
-- code generation

local LUA_KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not or
  repeat return then true until while]]):gmatch("%a+") do LUA_KEYWORDS[w] = true end

local function lua_string(s)
  return '"' .. gsub(s, '[%c"\\\128-\255]', function(c)
    if c == '"' then return '\\"' end
    if c == "\\" then return "\\\\" end
    if c == "\n" then return "\\n" end
    if c == "\r" then return "\\r" end
    if c == "\t" then return "\\t" end
    if byte(c) >= 128 then return c end
    return format("\\%03d", byte(c))
  end) .. '"'
end
M.lua_string = lua_string

local function lua_number(v, int)
  if int then
    if v == math.mininteger then return "math.mininteger" end
    return tostring(v)
  end
  if v ~= v then return "(0.0/0.0)" end
  if v == math.huge then return "(1.0/0.0)" end
  if v == -math.huge then return "(-1.0/0.0)" end
  local s = format("%.17g", v)
  for prec = 1, 17 do
    local c = format("%." .. prec .. "g", v)
    if tonumber(c) == v then s = c; break end
  end
  if not find(s, "[%.eEn]") then s = s .. ".0" end
  return s
end

-- Lua precedences: or 1, and 2, comparison 3, | 4, ~ 5, & 6, shift 7, .. 8, + - 9,
-- * / // % 10, unary 11, ^ 12, primary 14
local PREC_ATOM = 14

local G = {}
G.__index = G

-- what As<T>() may read a message body as (XML types are not supported)
local AS_TYPES = { string = true, ["byte[]"] = true, JObject = true, JArray = true, JToken = true }
local check_type_known -- below: a known type name, or a load-time error

local function new_gen(src, kind)
  return setmetatable({
    src = src, kind = kind, out = {}, depth = 1, tmp = 0,
    scope = { vars = {}, parent = nil },
    fn = { kind = "top", loops = 0 },
    pre = nil,
  }, G)
end

function G:line(s) self.out[#self.out + 1] = rep("  ", self.depth) .. s end

function G:temp(base)
  self.tmp = self.tmp + 1
  return "__" .. (base or "t") .. self.tmp
end

function G:push_scope() self.scope = { vars = {}, parent = self.scope } end
function G:pop_scope() self.scope = self.scope.parent end

function G:lookup(name)
  local s = self.scope
  while s do
    local v = s.vars[name]
    if v then return v end
    s = s.parent
  end
  return nil
end

local function lua_name(name)
  if LUA_KEYWORDS[name] or name == "rt" or name == "context" or name == "self"
    or find(name, "^__") or name == "_ENV" then
    return name .. "_"
  end
  return name
end

function G:declare(name, p, ty, kind)
  if self.scope.vars[name] then fail(p, "C# error: a local named '" .. name .. "' is already declared here") end
  local info = { lua = lua_name(name), type = ty, kind = kind or "local" }
  if name == "context" then
    fail(p, "C# error: a local named 'context' would hide the context parameter")
  end
  self.scope.vars[name] = info
  return info
end

-- static type of a declared C# type
local function static_of(ty)
  if not ty then return nil end
  if ty.rank > 0 or ty.nullable then return nil end
  local n = ty.name
  if n == "string" or n == "bool" or n == "char" then return n end
  if NUMERIC[n] then return n end
  return nil
end

local function wrap(code, prec, need)
  if prec < need then return "(" .. code .. ")" end
  return code
end

-- result: { code, prec, type (static, may be nil), nonnil (never nil/false), pieces (string concat) }
local function R(code, prec, ty, nonnil)
  return { code = code, prec = prec or PREC_ATOM, type = ty, nonnil = nonnil }
end

-- a value known never to be nil or false (safe for `c and a or b`)
local function truthy(r)
  return r.nonnil == true
end

-- Expressions whose evaluation is cheap and without effects (may be evaluated eagerly)
local function simple(node)
  local k = node.k
  return k == "str" or k == "num" or k == "bool" or k == "null" or k == "chr"
    or (k == "name" and not node.targs)
end

function G:expr(node)
  local f = self["e_" .. node.k]
  if not f then fail(node.p, "internal: no generator for " .. node.k) end
  return f(self, node)
end

function G:code(node, need)
  local r = self:expr(node)
  return wrap(r.code, r.prec, need or 0)
end

function G:e_num(n)
  if n.v < 0 then return R(lua_number(n.v, n.int), 11, n.int and "int" or "double", true) end
  return R(lua_number(n.v, n.int), PREC_ATOM, n.int and "int" or "double", true)
end
function G:e_str(n) return R(lua_string(n.v), PREC_ATOM, "string", true) end
function G:e_chr(n) return R(lua_string(n.v), PREC_ATOM, "char", true) end
function G:e_bool(n) return R(n.v and "true" or "false", PREC_ATOM, "bool", n.v) end
function G:e_null() return R("nil", PREC_ATOM) end
function G:e_paren(n) return self:expr(n.e) end

function G:e_default(n)
  local st = n.type.rank == 0 and not n.type.nullable and n.type.name
  if st == "bool" then return R("false", PREC_ATOM, "bool") end
  if NUMERIC[st] then
    return R(INTEGRAL[st] and "0" or "0.0", PREC_ATOM, st, true)
  end
  if st == "char" then return R('"\\0"', PREC_ATOM, "char", true) end
  return R("nil", PREC_ATOM)
end

-- string concatenation pieces: a string-typed operand, converted with rt.str
-- unless it is known never to be nil
function G:piece(node)
  if node.k == "num" or node.k == "bool" then return { lua_string(rt.str(node.v)) } end
  if node.k == "null" then return {} end
  local r = self:expr(node)
  if r.pieces then return r.pieces end
  if r.type == "string" and r.nonnil then return { wrap(r.code, r.prec, 9) } end
  return { "rt.str(" .. r.code .. ")" }
end

local function concat_result(pieces)
  local code
  if #pieces > 60 then
    -- Lua needs a register per operand of one `..` chain: concatenate in groups
    local groups = {}
    for i = 1, #pieces, 50 do groups[#groups + 1] = "(" .. concat(pieces, " .. ", i, math.min(i + 49, #pieces)) .. ")" end
    code = concat(groups, " .. ")
  else
    code = concat(pieces, " .. ")
  end
  return { code = code, prec = 8, type = "string", nonnil = true, pieces = pieces }
end

function G:e_istr(n)
  local pieces = {}
  for _, part in ipairs(n.parts) do
    if type(part) == "string" then
      pieces[#pieces + 1] = lua_string(part)
    else
      if part.fmt or part.align then
        local args = { self:code(part.e), part.fmt and lua_string(part.fmt) or "nil" }
        if part.align then args[3] = self:code(part.align) end
        pieces[#pieces + 1] = "rt.fmt(" .. concat(args, ", ") .. ")"
      else
        local sp = self:piece(part.e)
        for _, s in ipairs(sp) do pieces[#pieces + 1] = s end
      end
    end
  end
  if #pieces == 0 then return R('""', PREC_ATOM, "string", true) end
  if #pieces == 1 then
    local only = pieces[1]
    if find(only, '^"') or find(only, "^rt%.") then return R(only, PREC_ATOM, "string", true) end
  end
  return concat_result(pieces)
end

-- names: locals, parameters, local functions, `context`; anything else must be a type
function G:e_name(n)
  local v = self:lookup(n.v)
  if v then
    if n.targs then unsupported(n.p, n.v .. "<...>", "generic local functions are not supported") end
    return R(v.lua, PREC_ATOM, v.type, v.nonnil)
  end
  if n.v == "context" then return R("context", PREC_ATOM) end
  if n.v == "_" then fail(n.p, "C# error: '_' is a discard, not a value") end
  local ty = T[canon_name(n.v)]
  if ty then
    unsupported(n.p, n.v, "a type name is not a value here")
  end
  fail(n.p, format("unknown name '%s' (not a local variable, a parameter, 'context' or a supported type)", n.v))
end

-- The dotted text of a member chain rooted at a name that is not a local.
function G:chain_text(node)
  if node.k == "name" then
    if node.targs or self:lookup(node.v) or node.v == "context" then return nil end
    return node.v
  end
  if node.k == "member" and not node.nc and not node.targs then
    local base = self:chain_text(node.obj)
    if base then return base .. "." .. node.name end
  end
  return nil
end

-- the static type a chain names, or nil
function G:static_type(node)
  local text = self:chain_text(node)
  if not text then return nil end
  local name = canon_name(text)
  local info = T[name]
  if info then return info, name, text end
  return nil, nil, text
end

local function is_namespace_prefix(text)
  for ns in pairs(NAMESPACES) do
    if ns == text or sub(ns, 1, #text + 1) == text .. "." then return true end
  end
  return false
end

-- Type.Member (property or value)
function G:static_member(info, tname, member, p, text)
  local m = info.static and info.static[member]
  if not m then
    unsupported(p, text .. "." .. member, "member not in Portico's C# subset")
  end
  if m.m then fail(p, format("C# error: '%s.%s' is a method; call it with ( )", text, member)) end
  if m.enum then
    return R("rt.E." .. info.enum .. "." .. member, PREC_ATOM, nil, true)
  end
  if m.lua then
    local prec = find(m.lua, "^%-") and 11 or PREC_ATOM
    return R(m.lua, prec, m.type, m.lua ~= "nil" and m.lua ~= "false")
  end
  if m.v then return R("rt.T." .. info.rt .. "." .. member, PREC_ATOM, m.type, true) end
  return R("rt.T." .. info.rt .. "." .. member .. "()", PREC_ATOM, m.type, m.nonnil)
end


-- A dotted chain rooted at a name that is neither a local nor `context` must start
-- with a type (Type.Member.More...): otherwise it names something unknown.
local function chain_start(node)
  while node.k == "member" do node = node.obj end
  return node.p
end

function G:check_chain(text, full, p)
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

function G:e_member(n)
  if n.targs then fail(n.p, "C# syntax error: generic arguments without a call") end
  local info, tname, text = self:static_type(n.obj)
  if info then return self:static_member(info, tname, n.name, n.p, text) end
  if text then
    local full = text .. "." .. n.name
    if T[canon_name(full)] then unsupported(n.p, full, "a type name is not a value here") end
    self:check_chain(text, full, chain_start(n.obj))
  end
  check_prop(n.name, n.p)
  local obj = self:expr(n.obj)
  local fn = (n.nc or obj.nullprop) and "rt.nget" or "rt.get"
  local r = R(fn .. "(" .. obj.code .. ", " .. lua_string(n.name) .. ")", PREC_ATOM)
  r.nullprop = n.nc or obj.nullprop
  if n.name == "Length" or n.name == "Count" then r.type = "int" end
  return r
end

-- named arguments: placed by the parameter names of the few methods that have them
local PARAMS = {
  As = { "preserveContent" }, AsFormUrlEncodedContent = { "preserveContent" },
  GetValueOrDefault = { "key", "defaultValue" },
  Equals = { "value", "comparisonType" }, StartsWith = { "value", "comparisonType" },
  EndsWith = { "value", "comparisonType" }, Contains = { "value", "comparisonType" },
  IndexOf = { "value", "startIndex", "comparisonType" }, ToString = { "format" },
  Split = { "separator", "count", "options" }, Substring = { "startIndex", "length" },
  Replace = { "oldValue", "newValue" }, Round = { "value", "digits", "mode" },
  Parse = { "s" }, ToBase64String = { "inArray" },
}

-- arguments -> list of code strings; out arguments become results collected by a setter
function G:arglist(args, method, p)
  local codes, outs, named = {}, nil, nil
  for _, a in ipairs(args) do
    if a.name then
      named = named or {}
      named[#named + 1] = a
    elseif named then
      fail(a.p, "C# error: positional arguments cannot follow named arguments")
    elseif a.out then
      outs = outs or {}
      outs[#outs + 1] = a.out
    else
      if outs then unsupported(a.p, "argument after out", "out arguments must come last") end
      codes[#codes + 1] = self:code(a.e)
    end
  end
  if named then
    local params = PARAMS[method or ""]
    if not params then
      unsupported(named[1].p, named[1].name .. ":", "named arguments of '" .. tostring(method) .. "' are not supported")
    end
    for _, a in ipairs(named) do
      local pos
      for i, pn in ipairs(params) do if pn == a.name then pos = i end end
      if not pos then
        unsupported(a.p, a.name .. ":", "unknown parameter name of '" .. method .. "'")
      end
      if a.out then unsupported(a.p, "out", "named out arguments are not supported") end
      for i = #codes + 1, pos - 1 do codes[i] = "nil" end
      codes[pos] = self:code(a.e)
    end
  end
  local _ = p
  return codes, outs
end

-- `f(args, out x)`: the callee returns its result then the out values;
-- a setter local function (declared before the statement) stores them.
function G:with_outs(call, outs, p)
  if not outs then return call end
  if not self.pre then unsupported(p, "out", "out arguments are not supported here") end
  local names = {}
  for i, o in ipairs(outs) do
    if o.discard or o.name == "_" then
      names[i] = "_"
    else
      local v
      if o.decl then
        v = self:declare(o.name, o.p, static_of(o.type))
        self.pre[#self.pre + 1] = "local " .. v.lua
      else
        v = self:lookup(o.name)
        if not v then fail(o.p, "unknown name '" .. o.name .. "'") end
        if v.kind ~= "local" then fail(o.p, "C# error: '" .. o.name .. "' cannot be an out argument") end
      end
      names[i] = v.lua
    end
  end
  local setter = self:temp("out")
  local params, assigns = {}, {}
  for i, name in ipairs(names) do
    params[i] = "v" .. i
    if name ~= "_" then assigns[#assigns + 1] = name .. " = v" .. i end
  end
  self.pre[#self.pre + 1] = format("local function %s(r, %s) %s return r end", setter,
    concat(params, ", "), concat(assigns, "; ") .. (#assigns > 0 and ";" or ""))
  return setter .. "(" .. call .. ")"
end

local function join_args(first, codes)
  local all = {}
  if first then all[1] = first end
  for _, c in ipairs(codes) do all[#all + 1] = c end
  return concat(all, ", ")
end

function G:e_call(n)
  local fn = n.fn
  if fn.k == "name" then
    local v = self:lookup(fn.v)
    if not v then
      if fn.v == "nameof" then fail(fn.p, "C# syntax error: bad nameof") end
      fail(fn.p, format("unknown name '%s' (not a local function or a delegate)", fn.v))
    end
    if fn.targs then unsupported(fn.p, fn.v .. "<...>", "generic local functions are not supported") end
    local codes, outs = self:arglist(n.args, nil, n.p)
    if outs then unsupported(n.p, "out", "out arguments to local functions are not supported") end
    return R(v.lua .. "(" .. concat(codes, ", ") .. ")", PREC_ATOM, v.ret)
  end
  -- fn is a member
  local info, tname, text = self:static_type(fn.obj)
  if info then
    local m = info.static and info.static[fn.name]
    if not m then unsupported(fn.p, text .. "." .. fn.name, "member not in Portico's C# subset") end
    if not m.m then fail(fn.p, format("C# error: '%s.%s' is not a method", text, fn.name)) end
    local codes, outs = self:arglist(n.args, fn.name, n.p)
    local first
    if fn.targs then
      if not m.generic then unsupported(fn.p, text .. "." .. fn.name .. "<...>", "generic form not supported") end
      first = lua_string(type_text(fn.targs[1]))
    elseif m.generic then
      first = "nil"
    end
    if info.rt == "Regex" then self:check_pattern(n.args[2], fn.name) end
    local call = "rt.T." .. info.rt .. "." .. fn.name .. "(" .. join_args(first, codes) .. ")"
    return R(self:with_outs(call, outs, n.p), PREC_ATOM, m.type, m.nonnil)
  end
  if text then self:check_chain(text, text .. "." .. fn.name, chain_start(fn.obj)) end
  check_method(fn.name, fn.p)
  local name = fn.name
  if fn.targs then
    local ts = {}
    for i, ty in ipairs(fn.targs) do ts[i] = type_text(ty) end
    if fn.name == "As" and not AS_TYPES[ts[1]] then
      unsupported(fn.targs[1].p, "As<" .. ts[1] .. ">", "message bodies are read as string, byte[], JObject, JArray or JToken")
    end
    for _, ty in ipairs(fn.targs) do check_type_known(ty) end
    name = name .. "<" .. concat(ts, ",") .. ">"
  end
  local obj = self:expr(fn.obj)
  local codes, outs = self:arglist(n.args, fn.name, n.p)
  local nullprop = fn.nc or obj.nullprop
  local call = (nullprop and "rt.ncall(" or "rt.call(") .. join_args(obj.code, { lua_string(name) })
  if #codes > 0 then call = call .. ", " .. concat(codes, ", ") end
  call = call .. ")"
  local r = R(self:with_outs(call, outs, n.p), PREC_ATOM)
  r.nullprop = nullprop
  local mname = fn.name
  if mname == "ToString" or mname == "Substring" or mname == "ToLower" or mname == "ToUpper"
    or mname == "Trim" or mname == "Replace" or mname == "ToLowerInvariant"
    or mname == "ToUpperInvariant" or mname == "TrimStart" or mname == "TrimEnd"
    or mname == "PadLeft" or mname == "PadRight" then
    r.type = "string"
    r.nonnil = not nullprop
  elseif mname == "IndexOf" or mname == "LastIndexOf" then
    r.type = "int"
  end
  if fn.targs and #fn.targs == 1 and (mname == "GetValueOrDefault" or mname == "Value") then
    r.type = static_of(fn.targs[1])
  end
  return r
end

local LITERAL = { num = true, str = true, chr = true, bool = true, null = true, istr = true,
  new = true, newarray = true, newsized = true }

function G:e_invoke(n)
  if LITERAL[n.fn.k] then fail(n.p, "C# error: only methods and delegates can be invoked") end
  local f = self:expr(n.fn)
  local codes, outs = self:arglist(n.args, nil, n.p)
  if outs then unsupported(n.p, "out", "out arguments to delegates are not supported") end
  return R("(" .. f.code .. ")(" .. concat(codes, ", ") .. ")", PREC_ATOM)
end

function G:e_index(n)
  local obj = self:expr(n.obj)
  local codes, outs = self:arglist(n.args, nil, n.p)
  if outs then fail(n.p, "C# syntax error: out in an indexer") end
  local nullprop = n.nc or obj.nullprop
  local r = R((nullprop and "rt.nindex(" or "rt.index(") .. obj.code .. ", " .. concat(codes, ", ") .. ")", PREC_ATOM)
  r.nullprop = nullprop
  return r
end

local UNOPS = { ["!"] = "not ", ["-"] = "-", ["~"] = "~", ["+"] = "" }
function G:e_un(n)
  local e = self:expr(n.e)
  if n.op == "!" then
    return R("not " .. wrap(e.code, e.prec, 11), 11, "bool")
  elseif n.op == "~" then
    return R("rt.bnot(" .. e.code .. ")", PREC_ATOM, e.type)
  elseif n.op == "+" then
    return e
  end
  local code = wrap(e.code, e.prec, 11)
  if find(code, "^%-") then code = "(" .. code .. ")" end
  return R("-" .. code, 11, NUMERIC[e.type] and e.type or nil, NUMERIC[e.type] and true or nil)
end

local function numeric_result(a, b)
  if a == "double" or a == "float" or a == "decimal" or b == "double" or b == "float" or b == "decimal" then
    return "double"
  end
  if a == "long" or b == "long" then return "long" end
  return "int"
end

local CMP = { ["=="] = "==", ["!="] = "~=", ["<"] = "<", [">"] = ">", ["<="] = "<=", [">="] = ">=" }
local BITS = { ["&"] = "rt.band", ["|"] = "rt.bor", ["^"] = "rt.bxor", ["<<"] = "rt.shl", [">>"] = "rt.shr" }

function G:e_bin(n)
  local op = n.op
  if op == "&&" or op == "||" then
    local a, b = self:expr(n.a), self:expr(n.b)
    local lp = op == "&&" and 2 or 1
    return R(wrap(a.code, a.prec, lp) .. (op == "&&" and " and " or " or ") .. wrap(b.code, b.prec, lp + 1),
      lp, "bool")
  end
  if op == "+" then
    local a, b = self:expr(n.a), self:expr(n.b)
    if a.type == "string" or b.type == "string" then
      local pieces = {}
      local function add(r, node)
        if node.k == "num" or node.k == "bool" then pieces[#pieces + 1] = lua_string(rt.str(node.v))
        elseif node.k == "null" then return
        elseif r.pieces then for _, s in ipairs(r.pieces) do pieces[#pieces + 1] = s end
        elseif r.type == "string" and r.nonnil then pieces[#pieces + 1] = wrap(r.code, r.prec, 9)
        else pieces[#pieces + 1] = "rt.str(" .. r.code .. ")" end
      end
      add(a, n.a); add(b, n.b)
      return concat_result(pieces)
    end
    if NUMERIC[a.type] and NUMERIC[b.type] then
      return R(wrap(a.code, a.prec, 9) .. " + " .. wrap(b.code, b.prec, 10), 9, numeric_result(a.type, b.type), true)
    end
    return R("rt.add(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM)
  end
  local a, b = self:expr(n.a), self:expr(n.b)
  if CMP[op] then
    return R(wrap(a.code, a.prec, 4) .. " " .. CMP[op] .. " " .. wrap(b.code, b.prec, 4), 3, "bool")
  end
  if op == "-" or op == "*" then
    local ty = (NUMERIC[a.type] and NUMERIC[b.type]) and numeric_result(a.type, b.type) or nil
    if op == "-" and not ty then
      -- DateTime - TimeSpan and friends go through metamethods; numbers stay numbers
      return R("rt.sub(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM)
    end
    local bcode = wrap(b.code, b.prec, 11)
    if op == "-" and find(bcode, "^%-") then bcode = "(" .. bcode .. ")" end
    return R(wrap(a.code, a.prec, 10) .. " " .. op .. " " .. (op == "-" and wrap(b.code, b.prec, 10) or bcode), 10, ty, ty and true)
  end
  if op == "/" then
    if INTEGRAL[a.type] and INTEGRAL[b.type] then
      return R("rt.idiv(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM, numeric_result(a.type, b.type), true)
    end
    local ty = (NUMERIC[a.type] and NUMERIC[b.type]) and "double" or nil
    if ty == "double" then
      return R(wrap(a.code, a.prec, 10) .. " / " .. wrap(b.code, b.prec, 11), 10, "double", true)
    end
    return R("rt.div(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM)
  end
  if op == "%" then
    local ty = (NUMERIC[a.type] and NUMERIC[b.type]) and numeric_result(a.type, b.type) or nil
    return R("rt.mod(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM, ty, ty and true)
  end
  if BITS[op] then
    local ty = a.type
    if op == "&" or op == "|" or op == "^" then
      if a.type == "bool" or b.type == "bool" then ty = "bool" end
    end
    return R(BITS[op] .. "(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM, ty)
  end
  fail(n.p, "internal: operator " .. op)
end

-- `c ? a : b`: `c and a or b` when a can never be nil/false, else a small closure
function G:e_cond(n)
  local c, a, b = self:expr(n.c), self:expr(n.a), self:expr(n.b)
  local ty = (a.type == b.type) and a.type or nil
  if a.type == "string" and b.type == "string" then ty = "string" end
  if truthy(a) then
    return R(wrap(c.code, c.prec, 3) .. " and " .. wrap(a.code, a.prec, 3) .. " or " .. wrap(b.code, b.prec, 2),
      1, ty, truthy(b))
  end
  return R("(function() if " .. c.code .. " then return " .. a.code .. " end return " .. b.code .. " end)()",
    PREC_ATOM, ty, truthy(a) and truthy(b))
end

function G:e_coalesce(n)
  local a, b = self:expr(n.a), self:expr(n.b)
  if simple(n.b) or find(b.code, '^"[^"\\]*"$') or find(b.code, "^%-?[%d.]+$")
    or find(b.code, "^[%a_][%w_]*$") or find(b.code, "^rt%.E%.[%w_.]+$") then
    return R("rt.coalesce(" .. a.code .. ", " .. b.code .. ")", PREC_ATOM, b.type, truthy(b))
  end
  return R("(function() local v = " .. a.code .. " if v == nil then return " .. b.code .. " end return v end)()",
    PREC_ATOM, (a.type == b.type) and a.type or nil, truthy(b))
end

-- how a cast to a type translates: convert (rt.cast), check (rt.cast, type check only),
-- none (the value passes through)
local function cast_kind(ty)
  if ty.rank > 0 then
    local n = ty.name
    if KEYWORD_TYPES[n] or T[n] or OPAQUE[n] then return "none" end
    return nil
  end
  local info = T[ty.name]
  if info and info.cast then return info.cast end
  if info and info.enum then return "none" end
  if OPAQUE[ty.name] then return "none" end
  return nil
end

function G:e_cast(n)
  local e = self:expr(n.e)
  local kind = cast_kind(n.type)
  if not kind then
    unsupported(n.type.p, "(" .. type_text(n.type) .. ")", "type not in Portico's C# subset")
  end
  if kind == "none" then return e end
  local st = static_of(n.type)
  local tt = type_text(n.type)
  if n.type.nullable then
    tt = n.type.name
    return R("rt.cast(" .. e.code .. ", " .. lua_string(tt) .. ", true)", PREC_ATOM)
  end
  if st and e.type == st and st ~= "string" then return R(e.code, e.prec, st, e.nonnil) end
  if st == "string" and e.type == "string" then return e end
  local r = R("rt.cast(" .. e.code .. ", " .. lua_string(tt) .. ")", PREC_ATOM, st)
  if NUMERIC[st] or st == "bool" then r.nonnil = st ~= "bool" end
  return r
end

local function check_type_known_(ty)
  local n = ty.name
  if KEYWORD_TYPES[n] or T[n] or OPAQUE[n] then return true end
  unsupported(ty.p, type_text(ty), "type not in Portico's C# subset")
end
check_type_known = check_type_known_

function G:e_as(n)
  check_type_known(n.type)
  local e = self:expr(n.e)
  return R("rt.as(" .. e.code .. ", " .. lua_string(type_text(n.type)) .. ")", PREC_ATOM, static_of(n.type))
end

function G:e_isnull(n)
  local e = self:expr(n.e)
  return R(wrap(e.code, e.prec, 4) .. " == nil", 3, "bool")
end

function G:e_is(n)
  check_type_known(n.type)
  local e = self:expr(n.e)
  local tt = lua_string(type_text(n.type))
  if not n.bind then
    return R("rt.is(" .. e.code .. ", " .. tt .. ")", PREC_ATOM, "bool")
  end
  if not self.pre then unsupported(n.p, "is T x", "declaration patterns are not supported here") end
  local v = self:declare(n.bind, n.bind_p, static_of(n.type))
  local fname = self:temp("is")
  self.pre[#self.pre + 1] = "local " .. v.lua
  self.pre[#self.pre + 1] = format("local function %s(v) if rt.is(v, %s) then %s = v return true end return false end",
    fname, tt, v.lua)
  return R(fname .. "(" .. e.code .. ")", PREC_ATOM, "bool")
end

-- a literal regular expression is compiled at load time, so a bad or unsupported
-- pattern fails there
function G:check_pattern(arg, method)
  if method == "Escape" or method == "Unescape" then return end
  if not (arg and arg.e and arg.e.k == "str") then return end
  local ok, e = pcall(rt.regex_check, arg.e.v)
  if not ok then fail(arg.e.p, "C# error: " .. rt.message(e)) end
end

function G:e_new(n)
  local ty = n.type
  local name = ty.name
  if name == "Regex" then self:check_pattern(n.args[1], "new") end
  if not NEW[name] then
    unsupported(ty.p, "new " .. ty.dotted, "type not in Portico's C# subset")
  end
  if ty.nullable then unsupported(ty.p, "new " .. type_text(ty), "not supported") end
  local codes, outs = self:arglist(n.args, nil, n.p)
  if outs then unsupported(n.p, "out", "out arguments to constructors are not supported") end
  local code = "rt.new(" .. join_args(lua_string(name), codes) .. ")"
  if n.init then
    local items = {}
    for _, it in ipairs(n.init) do
      if it.kind == "set" then
        check_prop(it.name, it.p)
        items[#items + 1] = format('{ "set", %s, %s }', lua_string(it.name), self:code(it.value))
      elseif it.kind == "index" then
        items[#items + 1] = format('{ "index", %s, %s }', self:code(it.key), self:code(it.value))
      else
        local args = {}
        for i, a in ipairs(it.args) do args[i] = self:code(a) end
        items[#items + 1] = format('{ "add", %d, %s }', #args, concat(args, ", "))
      end
    end
    code = "rt.init(" .. code .. ", " .. concat(items, ", ") .. ")"
  end
  return R(code, PREC_ATOM, name == "string" and "string" or nil, true)
end

local function elem_name(ty)
  if not ty then return "" end
  if ty.rank > 0 then return "object" end
  return ty.name
end

function G:e_newarray(n)
  if n.type then check_type_known(n.type) end
  local items = {}
  for i, it in ipairs(n.items) do
    if it.k == "newarray" and not it.type then it.type = n.type and { k = "type", name = n.type.name, rank = 0, p = it.p } end
    items[i] = self:code(it)
  end
  local args = { lua_string(elem_name(n.type)), tostring(#items) }
  for _, c in ipairs(items) do args[#args + 1] = c end
  return R("rt.array_of(" .. concat(args, ", ") .. ")", PREC_ATOM, nil, true)
end

function G:e_newsized(n)
  check_type_known(n.type)
  if n.rank > 0 then unsupported(n.p, "jagged array", "not supported") end
  return R("rt.new_array(" .. lua_string(n.type.name) .. ", " .. self:code(n.size) .. ")", PREC_ATOM, nil, true)
end

-- lambdas become Lua functions; their parameters are untyped
function G:e_lambda(n)
  local saved_fn, saved_out, saved_depth, saved_pre = self.fn, self.out, self.depth, self.pre
  self.fn = { kind = "lambda", loops = 0 }
  self.out = {}
  self.depth = 1
  self:push_scope()
  local params = {}
  for i, prm in ipairs(n.params) do
    if prm.name == "_" then params[i] = "_"
    else
      local v = self:declare(prm.name, prm.p, static_of(prm.type))
      params[i] = v.lua
    end
  end
  local body = n.body.body
  local code
  if #body == 1 and body[1].k == "return" and body[1].e then
    self.pre = {}
    local r = self:expr(body[1].e)
    if #self.pre > 0 then
      code = "function(" .. concat(params, ", ") .. ") " .. concat(self.pre, " ") .. " return " .. r.code .. " end"
    else
      code = "function(" .. concat(params, ", ") .. ") return " .. r.code .. " end"
    end
  else
    self:stmts(body)
    local lines = self.out
    local ind = rep("  ", saved_depth)
    for i, l in ipairs(lines) do lines[i] = ind .. l end
    code = "function(" .. concat(params, ", ") .. ")\n" .. concat(lines, "\n") .. "\n" .. ind .. "end"
  end
  self:pop_scope()
  self.fn, self.out, self.depth, self.pre = saved_fn, saved_out, saved_depth, saved_pre
  return R(code, PREC_ATOM, nil, true)
end

function G:e_incdec(n)
  unsupported(n.p, n.op, "increment and decrement are only supported as statements")
end

function G:e_assign(n)
  unsupported(n.p, n.op, "assignment is only supported as a statement")
end

function G:e_type(n)
  unsupported(n.p, n.dotted, "a type name is not a value here")
end

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

------------------------------------------------------------------------------
-- entry points

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
