-- portico.reader: reads an APIM policy document into a tree of nodes.
--
-- Owns: the text -> tree step, with APIM's "rawxml" tolerance. Real policy documents
-- are often not well-formed XML, because the C# policy expressions inside attribute values
-- and text keep raw `"`, `<`, `>` and `&&`. So wherever `@(` or `@{` starts inside a value,
-- the reader skips the expression by balancing brackets while honouring C# string, verbatim
-- string, interpolated string and char literals and comments, and only then goes back to
-- XML. Documents that ARE well-formed encode the same characters as entities; both forms
-- end up as the same decoded text. Every node keeps file, line and column (1-based,
-- counted in characters, the column of the node's `<`).
--
-- Does not own: `{{named value}}` substitution (done on the text before reading, so the
-- reader leaves `{{...}}` alone and lets a bare `&` pass), what elements mean (compiler,
-- policies/*.lua), translating expressions (expr.lua). No DTDs, no namespaces processing.
--
-- The tree (what parse returns):
--   element { name, attrs = { {name, value, line, col, value_line, value_col}... } in document
--             order, attr = { [name] = value }, children = { element | text ... }, line, col, file }
--   text    { text, line, col, file }: entities decoded, CDATA raw, adjacent text and CDATA
--             merged (comments in between vanish), placed at its first significant character;
--             text made only of literal whitespace is dropped.
-- Expressions stay inside the values as written (`@(...)`, decoded); is_expression tells the
-- compiler whether a whole value is one.
--
-- Linear time: the scanners jump between interesting characters with string.find, and
-- positions become line:column through a line table and a forward-moving cursor.

local byte, sub, find, match, gsub = string.byte, string.sub, string.find, string.match, string.gsub
local concat, tonumber, utf8_char = table.concat, tonumber, utf8.char
local format = string.format

local M = {}

local ENTITIES = { lt = "<", gt = ">", amp = "&", quot = '"', apos = "'" }
local NAME = "^[%a_:\128-\255][%w_:%.%-\128-\255]*"
local OPENERS = { ["("] = ")", ["["] = "]", ["{"] = "}" }
local CLOSERS = { [")"] = "(", ["]"] = "[", ["}"] = "{" }

-- The reader's own failures travel as this table through error() and are turned into
-- `nil, message` at the edge; anything else is a bug and is re-raised.
local Failure = {}

------------------------------------------------------------------------------------------
-- positions

local function line_table(s)
  local starts, n, p = { 1 }, 1, 1
  while true do
    local nl = find(s, "\n", p, true)
    if not nl then return starts end
    n = n + 1
    starts[n] = nl + 1
    p = nl + 1
  end
end

-- characters (not bytes) in s[i, j): UTF-8 continuation bytes do not count
local function width(s, i, j)
  if j <= i then return 0 end
  local _, cont = gsub(sub(s, i, j - 1), "[\128-\191]", "")
  return j - i - cont
end

local function locate(doc, pos)
  local starts, s = doc.starts, doc.s
  local line, col = doc.c_line, nil
  if pos >= doc.c_pos and (line == #starts or pos < starts[line + 1]) then
    col = doc.c_col + width(s, doc.c_pos, pos)
  else
    local lo, hi = 1, #starts
    while lo < hi do
      local mid = (lo + hi + 1) // 2
      if starts[mid] <= pos then lo = mid else hi = mid - 1 end
    end
    line = lo
    col = 1 + width(s, starts[line], pos)
  end
  doc.c_line, doc.c_pos, doc.c_col = line, pos, col
  return line, col
end

local function at(doc, pos)
  local line, col = locate(doc, pos)
  return line .. ":" .. col
end

local function fail(doc, pos, fmt, ...)
  local msg = format(fmt, ...)
  error(setmetatable({ message = doc.file .. ":" .. at(doc, pos) .. ": " .. msg }, Failure), 0)
end

------------------------------------------------------------------------------------------
-- entities

local function code_point_char(cp)
  if cp and (cp == 0x9 or cp == 0xA or cp == 0xD or (cp >= 0x20 and cp <= 0xD7FF)
      or (cp >= 0xE000 and cp <= 0xFFFD) or (cp >= 0x10000 and cp <= 0x10FFFF)) then
    return utf8_char(cp)
  end
  return nil
end

-- `name` is what stands between & and ; — a known entity or a character reference
local function entity_char(name)
  local known = ENTITIES[name]
  if known then return known end
  local digits = match(name, "^#(%d+)$")
  if digits then return #digits <= 8 and code_point_char(tonumber(digits)) or nil end
  local hex = match(name, "^#x(%x+)$")
  if hex then return #hex <= 8 and code_point_char(tonumber(hex, 16)) or nil end
  return nil
end

-- Inside expressions only known entities are decoded: `a&b;` is C#, not an entity.
local function decode_loose(s)
  if not find(s, "&", 1, true) then return s end
  return (gsub(s, "&(#?%w+);", entity_char))
end

-- Outside expressions: a reference must be known; a bare `&` that starts no reference is
-- kept, because named values are substituted as text before reading and may carry one.
local function decode_strict(doc, p)
  local s = doc.s
  if byte(s, p + 1) == 35 then -- '#'
    local ref = match(s, "^&(#%d+);", p) or match(s, "^&(#x%x+);", p)
    local ch = ref and entity_char(ref)
    if not ch then
      fail(doc, p, "bad character reference '%s' (write &#NN; or &#xHH; with a valid XML character)",
        match(s, "^&#[^;%s<]*;?", p))
    end
    return ch, #ref + 2
  end
  local name = match(s, "^&([%a_:][%w_:%.%-]*);", p)
  if not name then return "&", 1 end
  local ch = ENTITIES[name]
  if not ch then
    fail(doc, p, "unknown entity '&%s;' (XML knows &lt; &gt; &amp; &quot; &apos;; write the character, "
      .. "a character reference like &#160;, or &amp; for a literal '&')", name)
  end
  return ch, #name + 2
end

------------------------------------------------------------------------------------------
-- expressions: @( ... ) and @{ ... }

-- the logical character at p: a known entity counts as the character it stands for
local function peek(st, p)
  local s = st.s
  local c = sub(s, p, p)
  if c == "&" and st.entities then
    local name = match(s, "^&(#?%w+);", p)
    local ch = name and entity_char(name)
    if ch then return ch, #name + 2 end
  end
  return c, 1
end

-- numbers among the arguments are positions and print as line:col; is_expression only
-- wants to know that the scan failed, and has no line table
local function expr_fail(st, start, what, ...)
  if st.quiet then error(Failure, 0) end
  local args = table.pack(...)
  for i = 1, args.n do
    if type(args[i]) == "number" then args[i] = at(st, args[i]) end
  end
  fail(st, start, "unbalanced expression %s: %s", sub(st.s, start, start + 1),
    format(what, table.unpack(args, 1, args.n)))
end

-- a "..." string or a 'c' char literal (`quote`); p is just after the opening
-- quote; returns the position after the close. `what` names it in the error.
local function skip_quoted(st, p, start, open, quote, what)
  local s = st.s
  while true do
    local q = find(s, "[" .. quote .. "\\&\n]", p)
    if not q or byte(s, q) == 10 then expr_fail(st, start, what, open) end
    local c, len = peek(st, q)
    if c == quote then return q + len end
    if c == "\\" then
      local _, elen = peek(st, q + len)
      p = q + len + elen
    else
      p = q + len
    end
  end
end

local STRING_OPEN = "string literal opened at %s is not closed on its line (add '\"'; if "
  .. "that quote was meant to end the value, a closing bracket is missing before it)"
local CHAR_OPEN = "character literal opened at %s is not closed on its line (add \"'\")"

local function skip_string(st, p, start, open) return skip_quoted(st, p, start, open, '"', STRING_OPEN) end
local function skip_char(st, p, start, open) return skip_quoted(st, p, start, open, "'", CHAR_OPEN) end

-- an @"..." verbatim string: may span lines, "" is a quote
local function skip_verbatim(st, p, start, open)
  local s = st.s
  while true do
    local q = find(s, '["&]', p)
    if not q then
      expr_fail(st, start, "verbatim string opened at %s is never closed (add '\"')", open)
    end
    local c, len = peek(st, q)
    if c == '"' then
      local n, nlen = peek(st, q + len)
      if n ~= '"' then return q + len end
      p = q + len + nlen
    else
      p = q + len
    end
  end
end

local function never_closed(st, start, frame)
  local k = frame.kind
  if k == "istr" or k == "vistr" then
    expr_fail(st, start, "interpolated string opened at %s is never closed (add '\"')", frame.pos)
  elseif k == "hole" then
    expr_fail(st, start, "interpolation hole '{' opened at %s is never closed (add '}')", frame.pos)
  end
  expr_fail(st, start, "'%s' opened at %s is never closed (add '%s')", k, frame.pos, OPENERS[k])
end

-- one step inside an interpolated string ($"..." or $@"..."); returns the next position
local function istr_step(st, stack, p, start)
  local s, top = st.s, stack[#stack]
  local verbatim = top.kind == "vistr"
  local q = find(s, verbatim and '["{}&]' or '["{}\\&\n]', p)
  if not q then never_closed(st, start, top) end
  if byte(s, q) == 10 then
    expr_fail(st, start, "interpolated string opened at %s is not closed on its line (add '\"')", top.pos)
  end
  local c, len = peek(st, q)
  local n, nlen = peek(st, q + len)
  if c == "\\" and not verbatim then
    return q + len + nlen
  elseif c == '"' then
    if verbatim and n == '"' then return q + len + nlen end
    stack[#stack] = nil
  elseif (c == "{" or c == "}") and n == c then
    return q + len + nlen -- {{ and }} are literal braces
  elseif c == "{" then
    stack[#stack + 1] = { kind = "hole", pos = q }
  end
  return q + len
end

local CODE_STOPS = "[%(%)%[%]{}\"'/@%$&:]"

-- one step in code (inside brackets or an interpolation hole); returns the next position
-- and, when the outermost bracket closed, true
local function code_step(st, stack, p, start)
  local s, top = st.s, stack[#stack]
  local q = find(s, CODE_STOPS, p)
  if not q then never_closed(st, start, top) end
  local c, len = peek(st, q)
  local after = q + len
  if OPENERS[c] then
    stack[#stack + 1] = { kind = c, pos = q }
  elseif CLOSERS[c] then
    local k = top.kind
    if k == CLOSERS[c] or (k == "hole" and c == "}") then
      stack[#stack] = nil
      return after, #stack == 0
    end
    if k == "hole" then
      expr_fail(st, start, "'%s' at %s inside the interpolation hole '{' opened at %s (expected '}')",
        c, q, top.pos)
    end
    expr_fail(st, start, "'%s' at %s does not close '%s' opened at %s (expected '%s')",
      c, q, k, top.pos, OPENERS[k])
  elseif c == '"' then
    return skip_string(st, after, start, q)
  elseif c == "'" then
    return skip_char(st, after, start, q)
  elseif c == "/" then
    local n = sub(s, after, after)
    if n == "/" then
      return find(s, "\n", after, true) or #s + 1
    elseif n == "*" then
      local e = find(s, "*/", after + 1, true)
      if not e then expr_fail(st, start, "comment opened at %s is never closed (add '*/')", q) end
      return e + 2
    end
  elseif c == "@" or c == "$" then
    local n, nlen = peek(st, after)
    if c == "@" and n == '"' then return skip_verbatim(st, after + nlen, start, q) end
    if n == '"' then
      stack[#stack + 1] = { kind = "istr", pos = q }
      return after + nlen
    end
    local n2, n2len = peek(st, after + nlen)
    if (n == "@" or n == "$") and n ~= c and n2 == '"' then
      stack[#stack + 1] = { kind = "vistr", pos = q }
      return after + nlen + n2len
    end
  elseif c == ":" and top.kind == "hole" then
    -- a format specifier ({x:yyyy-MM-dd}) is text up to the hole's '}'
    local e = find(s, "}", after, true)
    if not e then never_closed(st, start, top) end
    return e
  end
  return after
end

-- `start` is the position of the '@' of `@(` or `@{`; returns the position just after the
-- bracket that closes it
local function scan_expression(st, start)
  local open, olen = peek(st, start + 1)
  local stack = { { kind = open, pos = start + 1 } }
  local p, done = start + 1 + olen, false
  while true do
    local k = stack[#stack].kind
    if k == "istr" or k == "vistr" then
      p = istr_step(st, stack, p, start)
    else
      p, done = code_step(st, stack, p, start)
      if done then return p end
    end
  end
end

-- is an expression starting at p (the '@')?
local function expression_at(st, p)
  local n = peek(st, p + 1)
  return n == "(" or n == "{"
end

------------------------------------------------------------------------------------------
-- values: attribute values and text, with expressions skipped and entities decoded

-- appends to `parts` the value from p up to (not including) the first character matched by
-- `stops` outside expressions; returns that position (or #s + 1)
local function scan_value(doc, p, stops, parts, on_piece)
  local s = doc.s
  while true do
    local q = find(s, stops, p)
    if not q then
      if p <= #s then parts[#parts + 1] = sub(s, p); on_piece(p, sub(s, p), false) end
      return #s + 1
    end
    if q > p then
      local raw = sub(s, p, q - 1)
      parts[#parts + 1] = raw
      on_piece(p, raw, false)
    end
    local c = byte(s, q)
    if c == 38 then -- '&'
      local ch, len = decode_strict(doc, q)
      parts[#parts + 1] = ch
      on_piece(q, ch, len > 1)
      p = q + len
    elseif c == 64 then -- '@'
      if expression_at(doc, q) then
        local e = scan_expression(doc, q)
        local expr = decode_loose(sub(s, q, e - 1))
        parts[#parts + 1] = expr
        on_piece(q, expr, true)
        p = e
      else
        parts[#parts + 1] = "@"
        on_piece(q, "@", false)
        p = q + 1
      end
    else
      return q
    end
  end
end

local function ignore_piece() end

------------------------------------------------------------------------------------------
-- markup

local function read_attribute_value(doc, node, name, p, quote)
  local parts = {}
  local stops = quote == '"' and '["<&@]' or "['<&@]"
  local q = scan_value(doc, p, stops, parts, ignore_piece)
  local c = sub(doc.s, q, q)
  if c == quote then return concat(parts), q + 1 end
  if c == "<" then
    fail(doc, q, "'<' inside the value of attribute '%s' of <%s> opened at %s (write &lt;, "
      .. "or add the missing closing quote)", name, node.name, at(doc, p - 1))
  end
  fail(doc, p - 1, "the value of attribute '%s' of <%s> is never closed (add the closing %s)",
    name, node.name, quote)
end

local function read_attributes(doc, node, lt, p)
  local s = doc.s
  while true do
    local ws = match(s, "^[ \t\n]*", p)
    p = p + #ws
    local c = sub(s, p, p)
    if c == ">" then return p + 1, false end
    if c == "/" and sub(s, p + 1, p + 1) == ">" then return p + 2, true end
    if c == "" then
      fail(doc, lt, "tag <%s> is never closed (add '>' or '/>')", node.name)
    end
    local name = match(s, NAME, p)
    if not name then
      fail(doc, p, "unexpected '%s' in tag <%s> (expected an attribute name, '>' or '/>')", c, node.name)
    end
    if ws == "" then
      fail(doc, p, "attribute '%s' of <%s> must be separated from what precedes it by a space",
        name, node.name)
    end
    local apos = p
    p = p + #name
    p = p + #match(s, "^[ \t\n]*", p)
    if sub(s, p, p) ~= "=" then
      fail(doc, apos, "attribute '%s' of <%s> has no value (write %s=\"...\")", name, node.name, name)
    end
    p = p + 1
    p = p + #match(s, "^[ \t\n]*", p)
    local quote = sub(s, p, p)
    if quote ~= '"' and quote ~= "'" then
      fail(doc, p, "the value of attribute '%s' of <%s> must be in quotes (write %s=\"...\")",
        name, node.name, name)
    end
    local first = node.attr[name]
    if first ~= nil then
      local prev
      for _, a in ipairs(node.attrs) do if a.name == name then prev = a end end
      fail(doc, apos, "attribute '%s' is repeated on <%s> (first at %d:%d; keep one)",
        name, node.name, prev.line, prev.col)
    end
    local line, col = locate(doc, apos)
    local vline, vcol = locate(doc, p + 1)
    local value
    value, p = read_attribute_value(doc, node, name, p + 1, quote)
    node.attrs[#node.attrs + 1] = { name = name, value = value, line = line, col = col,
      value_line = vline, value_col = vcol }
    node.attr[name] = value
  end
end

-- pending text of the current element: literal whitespace alone is dropped, anything else
-- (a character, an entity, an expression, CDATA) makes it a text node
local function new_text()
  return { parts = {}, first = nil, significant = false }
end

local function read_document(doc)
  local s = doc.s
  local p = 1
  local open = {}   -- elements not closed yet, innermost last
  local open_at = {} -- where each of them starts
  local root, root_end
  local text = new_text()

  local function on_piece(pos, piece, special)
    if text.significant and text.first then return end
    if special then
      text.significant = true
      text.first = text.first or pos
    else
      local nw = find(piece, "[^ \t\n]")
      if nw then
        text.significant = true
        text.first = text.first or pos + nw - 1
      end
    end
  end

  local function flush()
    if text.significant then
      local parent = open[#open]
      if not parent then
        if root then
          fail(doc, text.first, "text after the root element <%s> (closed at %s); a policy "
            .. "document has one root element", root.name, at(doc, root_end))
        end
        fail(doc, text.first, "text before the root element (a policy document starts with "
          .. "an element such as <policies> or <fragment>)")
      end
      local line, col = locate(doc, text.first)
      parent.children[#parent.children + 1] = { text = concat(text.parts), line = line, col = col,
        file = doc.file }
    end
    if #text.parts > 0 then text = new_text() end
  end

  local function open_element(lt)
    local name = match(s, NAME, lt + 1)
    flush()
    if root and #open == 0 then
      fail(doc, lt, "element <%s> after the root element <%s> (closed at %s); a policy document "
        .. "has one root element", name, root.name, at(doc, root_end))
    end
    local line, col = locate(doc, lt)
    local node = { name = name, attrs = {}, attr = {}, children = {}, line = line, col = col,
      file = doc.file }
    local p2, empty = read_attributes(doc, node, lt, lt + 1 + #name)
    local parent = open[#open]
    if parent then
      parent.children[#parent.children + 1] = node
    else
      root = node
    end
    if empty then
      if node == root then root_end = lt end
    else
      open[#open + 1] = node
      open_at[#open] = lt
    end
    return p2
  end

  local function close_element(lt)
    local name = match(s, NAME, lt + 2)
    if not name then
      fail(doc, lt, "'</' must be followed by the name of the element it closes")
    end
    local p2 = lt + 2 + #name
    p2 = p2 + #match(s, "^[ \t\n]*", p2)
    if sub(s, p2, p2) ~= ">" then
      fail(doc, lt, "close tag </%s> must end with '>' and has no attributes", name)
    end
    flush()
    local node = open[#open]
    if not node then
      if root then
        fail(doc, lt, "close tag </%s> after the root element <%s> (closed at %s) has nothing to "
          .. "close (remove it)", name, root.name, at(doc, root_end))
      end
      fail(doc, lt, "close tag </%s> has no open element to close", name)
    end
    if node.name ~= name then
      fail(doc, lt, "close tag </%s> does not match <%s> opened at %d:%d (close <%s> first, "
        .. "or fix the name)", name, node.name, node.line, node.col, node.name)
    end
    open[#open] = nil
    if #open == 0 then root_end = lt end
    return p2 + 1
  end

  while true do
    local stops = #open > 0 and "[<&@]" or "[<&]"
    p = scan_value(doc, p, stops, text.parts, on_piece)
    if p > #s then break end
    -- at '<'
    if sub(s, p + 1, p + 3) == "!--" then
      local e = find(s, "-->", p + 4, true)
      if not e then fail(doc, p, "comment is never closed (add '-->')") end
      p = e + 3
    elseif sub(s, p + 1, p + 8) == "![CDATA[" then
      local e = find(s, "]]>", p + 9, true)
      if not e then fail(doc, p, "CDATA section is never closed (add ']]>')") end
      local content = sub(s, p + 9, e - 1)
      text.parts[#text.parts + 1] = content
      local nw = find(content, "[^ \t\n]")
      on_piece(nw and p + 8 + nw or p, content, true)
      if not open[#open] then flush() end
      p = e + 3
    elseif sub(s, p + 1, p + 1) == "?" then
      local e = find(s, "?>", p + 2, true)
      if not e then fail(doc, p, "processing instruction is never closed (add '?>')") end
      p = e + 2
    elseif sub(s, p + 1, p + 1) == "!" then
      fail(doc, p, "'<!' starts neither a comment nor CDATA (DOCTYPE and other declarations "
        .. "are not allowed in a policy document)")
    elseif sub(s, p + 1, p + 1) == "/" then
      p = close_element(p)
    elseif match(s, NAME, p + 1) then
      p = open_element(p)
    else
      fail(doc, p, "'<' does not start a tag (write &lt; for a literal '<', or put it inside "
        .. "an expression @(...))")
    end
  end
  flush()
  if #open > 0 then
    local node = open[#open]
    fail(doc, open_at[#open], "element <%s> is never closed (add </%s>)", node.name, node.name)
  end
  if not root then
    fail(doc, p, "no root element (a policy document is an element such as <policies>...</policies>)")
  end
  return root
end

------------------------------------------------------------------------------------------
-- public

-- Reads `text` (a policy document) and returns its root node, or nil and
-- "file:line:col: message (fix)". `filename` only labels nodes and messages.
function M.parse(text, filename)
  if type(text) ~= "string" then
    return nil, tostring(filename or "policy") .. ": policy document is not a string"
  end
  -- line ends count as XML counts them; a byte order mark is no column
  local s = find(text, "\r", 1, true) and gsub(text, "\r\n?", "\n") or text
  if sub(s, 1, 3) == "\239\187\191" then s = sub(s, 4) end
  local doc = { s = s, file = filename or "policy", starts = line_table(s), entities = true,
    c_line = 1, c_pos = 1, c_col = 1 }
  local ok, res = pcall(read_document, doc)
  if ok then return res end
  if getmetatable(res) == Failure then return nil, res.message end
  error(res, 0)
end

-- Whether a whole value (attribute value or text, surrounding whitespace ignored) is one
-- expression: returns "expr" and the text between @( and ), or "block" and the text
-- between @{ and }, or nil.
function M.is_expression(value)
  if type(value) ~= "string" then return nil end
  local a = find(value, "[^ \t\n\r]")
  if not a then return nil end
  local kind = sub(value, a, a + 1)
  if kind ~= "@(" and kind ~= "@{" then return nil end
  local b = match(value, "^.*[^ \t\n\r]()")
  local ok, stop = pcall(scan_expression, { s = value, quiet = true }, a)
  if not ok then
    if stop == Failure then return nil end
    error(stop, 0)
  end
  if stop ~= b then return nil end
  return kind == "@(" and "expr" or "block", sub(value, a + 2, b - 2)
end

local function quote(v)
  return '"' .. gsub(v, '[%c"\\]', function(c)
    if c == "\n" then return "\\n" elseif c == "\t" then return "\\t"
    elseif c == '"' or c == "\\" then return "\\" .. c end
    return format("\\%03d", byte(c))
  end) .. '"'
end

-- A canonical one-line-per-node dump of a tree (golden vectors, `portico check --dump`).
function M.dump(node)
  local out = {}
  local function walk(n, indent)
    if n.text then
      out[#out + 1] = format("%s#text %s @%d:%d", indent, quote(n.text), n.line, n.col)
      return
    end
    local line = { indent, n.name }
    for _, a in ipairs(n.attrs) do
      line[#line + 1] = " " .. a.name .. "=" .. quote(a.value)
    end
    line[#line + 1] = format(" @%d:%d", n.line, n.col)
    out[#out + 1] = concat(line)
    for _, c in ipairs(n.children) do walk(c, indent .. "  ") end
  end
  walk(node, "")
  return concat(out, "\n") .. "\n"
end

return M
