-- busted spec of lua/portico/reader.lua: the APIM-tolerant policy-document reader.
-- Run from the repository root: busted --lua=lua5.4 tests/lua/reader_spec.lua
-- Golden vectors: tests/lua/reader/<name>.xml next to <name>.expected (reader.dump output,
-- or "error: <message>"); refresh one with READER_GOLDEN_UPDATE=1 and read the diff.

package.path = "lua/?.lua;" .. package.path
local reader = require "portico.reader"

local GOLDEN_DIR = "tests/lua/reader"
local CORPUS_DIR = os.getenv("PORTICO_POLICY_CORPUS") or "../shared/corpus/apim-policy-snippets/examples"

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text
end

local function list(dir, pattern)
  local names = {}
  local p = io.popen('find "' .. dir .. '" -type f -name "' .. pattern .. '" 2>/dev/null | LC_ALL=C sort')
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  return names
end

local function parse(text)
  local root, err = reader.parse(text, "t.xml")
  assert(root, err)
  return root
end

local function err_of(text)
  local root, err = reader.parse(text, "t.xml")
  assert(root == nil, "expected an error, got a tree")
  return err
end

-- the first element child / the only text of a node, for short assertions
local function el(node, i)
  local n = 0
  for _, c in ipairs(node.children) do
    if c.name then
      n = n + 1
      if n == (i or 1) then return c end
    end
  end
end

local function text_of(node)
  assert.are.equal(1, #node.children)
  return node.children[1].text
end

-- the value of an attribute of the first child of the root, `<r><x a="..."/></r>` style
local function attr_value(doc, name)
  return el(parse(doc)).attr[name or "v"]
end

describe("reader", function()
  describe("well-formed documents", function()
    it("builds nodes with attributes in order, a lookup table, children and positions", function()
      local root = parse('<policies>\n  <inbound>\n    <set-header name="X-A" exists-action="skip" />\n'
        .. '  </inbound>\n</policies>\n')
      assert.are.equal("policies", root.name)
      assert.are.equal("t.xml", root.file)
      assert.are.same({ 1, 1 }, { root.line, root.col })
      local inbound = el(root)
      assert.are.same({ 2, 3 }, { inbound.line, inbound.col })
      local sh = el(inbound)
      assert.are.equal("set-header", sh.name)
      assert.are.same({ 3, 5 }, { sh.line, sh.col })
      assert.are.equal(2, #sh.attrs)
      assert.are.same({ name = "name", value = "X-A", line = 3, col = 17, value_line = 3, value_col = 23 },
        sh.attrs[1])
      assert.are.equal("exists-action", sh.attrs[2].name)
      assert.are.same({ 3, 28 }, { sh.attrs[2].line, sh.attrs[2].col })
      assert.are.same({ name = "X-A", ["exists-action"] = "skip" }, sh.attr)
      assert.are.same({}, sh.children)
    end)

    it("skips the XML declaration, processing instructions and comments", function()
      local root = parse('<?xml version="1.0"?>\n<!-- c1 -->\n<?pi x?>\n<policies><!-- c2 --><a/>'
        .. '<?pi y?></policies>\n<!-- c3 -->\n')
      assert.are.equal("policies", root.name)
      assert.are.same({ 4, 1 }, { root.line, root.col })
      assert.are.equal(1, #root.children)
    end)

    it("drops whitespace between elements but keeps significant text whole", function()
      local root = parse("<r>\n  <a> x </a>\n  <b>\n  </b>\n  <c>one <!-- c --> two</c>\n</r>")
      assert.are.equal(3, #root.children)
      assert.are.equal(" x ", text_of(el(root, 1)))
      assert.are.same({}, el(root, 2).children)
      assert.are.equal("one  two", text_of(el(root, 3)))
    end)

    it("keeps mixed content in order", function()
      local root = parse("<r>a<b/>c</r>")
      assert.are.equal(3, #root.children)
      assert.are.equal("a", root.children[1].text)
      assert.are.equal("b", root.children[2].name)
      assert.are.equal("c", root.children[3].text)
    end)

    it("decodes entities and character references in text and attributes", function()
      local root = parse('<r><a v="&lt;&gt;&amp;&quot;&apos;">&lt;&gt;&amp;&quot;&apos; &#65;&#x42;&#x263A;'
        .. '&#128512;</a></r>')
      local a = el(root)
      assert.are.equal([[<>&"']], a.attr.v)
      assert.are.equal([[<>&"' AB☺😀]], text_of(a))
    end)

    it("keeps whitespace that comes from a character reference or CDATA", function()
      local root = parse("<r><a>&#32;</a><b><![CDATA[ ]]></b><c> </c></r>")
      assert.are.equal(" ", text_of(el(root, 1)))
      assert.are.equal(" ", text_of(el(root, 2)))
      assert.are.same({}, el(root, 3).children)
    end)

    it("keeps CDATA content raw and merges it with the text around it", function()
      local root = parse("<r><a>x <![CDATA[<b>&amp; @( ]]> y</a></r>")
      assert.are.equal("x <b>&amp; @(  y", text_of(el(root)))
    end)

    it("accepts single-quoted attributes and whitespace around '='", function()
      local a = el(parse("<r><a x = 'say \"hi\"'\n y\t=\"it's\"/></r>"))
      assert.are.equal('say "hi"', a.attr.x)
      assert.are.equal("it's", a.attr.y)
    end)

    it("keeps a bare '&' that starts no reference (named values may bring one)", function()
      local a = el(parse('<r><a v="https://x/?a=1&b=2">a & b &&</a></r>'))
      assert.are.equal("https://x/?a=1&b=2", a.attr.v)
      assert.are.equal("a & b &&", text_of(a))
    end)

    it("leaves {{named values}} alone everywhere", function()
      local a = el(parse('<r><a v="{{backend-url}}/x">{{a.b}} @("{{c}}" + {{n}})</a></r>'))
      assert.are.equal("{{backend-url}}/x", a.attr.v)
      assert.are.equal('{{a.b}} @("{{c}}" + {{n}})', text_of(a))
    end)

    it("reads '@' that starts no expression as text", function()
      local a = el(parse('<r><a v="user@example.com @odata">x@y @ z</a></r>'))
      assert.are.equal("user@example.com @odata", a.attr.v)
      assert.are.equal("x@y @ z", text_of(a))
    end)

    it("accepts names with dots, dashes, colons and underscores", function()
      local a = el(parse('<r><x:a-b.c_d xmlns:x="u" _k.1="v"/></r>'))
      assert.are.equal("x:a-b.c_d", a.name)
      assert.are.equal("v", a.attr["_k.1"])
    end)
  end)

  describe("rawxml expressions", function()
    it("lets an attribute expression hold raw quotes", function()
      assert.are.equal('@(context.Request.Headers.GetValueOrDefault("x",""))',
        attr_value('<r><a v="@(context.Request.Headers.GetValueOrDefault("x",""))"/></r>'))
    end)

    it("lets expressions hold raw '<', '>' and '&&' in attributes and text", function()
      local a = el(parse('<r><a v="@(a < b && c > d)">@(x<y && "</a>" != "<&>")</a></r>'))
      assert.are.equal("@(a < b && c > d)", a.attr.v)
      assert.are.equal('@(x<y && "</a>" != "<&>")', text_of(a))
    end)

    it("decodes entities inside expressions of well-formed documents to the same C#", function()
      local raw = attr_value('<r><a v="@(a &lt; b &amp;&amp; s == &quot;x&quot;)"/></r>')
      assert.are.equal('@(a < b && s == "x")', raw)
      local text = text_of(el(parse("<r><a>@(a&lt;b &amp;&amp; c &gt; d)</a></r>")))
      assert.are.equal("@(a<b && c > d)", text)
    end)

    it("lexes an entity-encoded quote as a quote, so encoded strings may hold brackets", function()
      assert.are.equal('@(x.Split(")"))', attr_value('<r><a v="@(x.Split(&quot;)&quot;))"/></r>'))
    end)

    it("keeps unknown references inside expressions raw: `a&b;` is C#", function()
      assert.are.equal("@(a&b; c &&d;)", text_of(el(parse("<r><a>@(a&b; c &&d;)</a></r>"))))
    end)

    it("balances nested parentheses, braces and brackets", function()
      local v = "@{ var a = new [] { f(g(1), (2)) }; if (a[0] > 0) { return a[(0)]; } return null; }"
      assert.are.equal(v, attr_value('<r><a v="' .. v .. '"/></r>'))
    end)

    it("ignores brackets and quotes inside strings", function()
      local v = [[@("(" + "}" + "\")" + "'" + "</a>")]]
      assert.are.equal(v, attr_value('<r><a v="' .. v .. '"/></r>'))
    end)

    it("honours verbatim strings with doubled quotes and backslashes", function()
      local v = [[@(@"C:\dir\" + @"say ""hi"" )" + @"a
b")]]
      assert.are.equal(v, attr_value('<r><a v="' .. v .. '"/></r>'))
    end)

    it("honours interpolated strings, their holes and escaped braces", function()
      for _, v in ipairs {
        [[@($"{{lit}}-{(string)ctx.Variables["s"]}-{ new { a = 1 }.a }")]],
        [[@($"outer {$"inner {("(" + ")")}"} done")]],
        [[@($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss}Z")]],
        [[@($@"{x}""}}""" + @$"\{y}\")]],
        [[@($"a\"{b}\"c")]],
      } do
        assert.are.equal(v, attr_value('<r><a v="' .. v .. '"/></r>'))
      end
    end)

    it("honours char literals", function()
      local v = [[@(s.Trim('"', '\'', ')', '\\', '(').Split('}'))]]
      assert.are.equal(v, attr_value('<r><a v="' .. v .. '"/></r>'))
    end)

    it("ends a single-quoted attribute after an expression with char literals", function()
      assert.are.equal("@(s.Split('/')[0])", attr_value("<r><a v='@(s.Split('/')[0])'/></r>"))
    end)

    it("skips C# comments holding quotes and brackets", function()
      local v = "@{\n  // don't ( \"\n  /* ) } ' */\n  var u = \"http://x\"; // not // a comment in the string\n"
        .. "  return u;\n}"
      assert.are.equal(v, text_of(el(parse("<r><a>" .. v .. "</a></r>"))))
    end)

    it("continues the value after an expression up to the closing quote", function()
      local root = parse('<r><a v="@(x) tail" w="pre @(y) post"/></r>')
      assert.are.equal("@(x) tail", el(root).attr.v)
      assert.are.equal("pre @(y) post", el(root).attr.w)
    end)

    it("reads text expressions with surrounding whitespace and the text's position at '@'", function()
      local root = parse("<r>\n  <a>\n    @{ return \"x\"; }\n  </a>\n</r>")
      local t = el(root).children[1]
      assert.are.equal('\n    @{ return "x"; }\n  ', t.text)
      assert.are.same({ 3, 5 }, { t.line, t.col })
      assert.are.equal("t.xml", t.file)
    end)
  end)

  describe("positions", function()
    it("are 1-based lines and columns of '<', counted in characters", function()
      local root = parse('<r>\n\t<é a="€">\n\t\t<b c="1"/>\n\t</é>\n</r>')
      local e = el(root)
      assert.are.same({ 2, 2 }, { e.line, e.col })
      assert.are.same({ 2, 5, 2, 8 }, { e.attrs[1].line, e.attrs[1].col, e.attrs[1].value_line,
        e.attrs[1].value_col })
      local b = el(e)
      assert.are.same({ 3, 3 }, { b.line, b.col })
      assert.are.same({ 3, 6 }, { b.attrs[1].line, b.attrs[1].col })
    end)

    it("count CRLF and CR as one line end and ignore a byte order mark", function()
      local root = parse("\239\187\191<r>\r\n<a/>\r<b>x\r\ny</b></r>")
      assert.are.same({ 1, 1 }, { root.line, root.col })
      assert.are.same({ 2, 1 }, { el(root, 1).line, el(root, 1).col })
      assert.are.same({ 3, 1 }, { el(root, 2).line, el(root, 2).col })
      assert.are.equal("x\ny", text_of(el(root, 2)))
    end)

    it("place a text node at its first significant character", function()
      local root = parse("<r><a>\n   &amp;x</a><b>  <![CDATA[  y]]></b></r>")
      assert.are.same({ 2, 4 }, { el(root, 1).children[1].line, el(root, 1).children[1].col })
      assert.are.same({ 2, 30 }, { el(root, 2).children[1].line, el(root, 2).children[1].col })
    end)
  end)

  describe("is_expression", function()
    it("recognises a whole @(...) or @{...} and returns the inner text", function()
      assert.are.same({ "expr", "a + b" }, { reader.is_expression("@(a + b)") })
      assert.are.same({ "block", " return 1; " }, { reader.is_expression("@{ return 1; }") })
      assert.are.same({ "expr", 'f(")")' }, { reader.is_expression("\n  @(f(\")\"))  \n") })
      assert.are.same({ "block", " if (x) { return \"}\"; } return '{'; " },
        { reader.is_expression("@{ if (x) { return \"}\"; } return '{'; }") })
    end)

    it("says nil for anything else", function()
      assert.is_nil(reader.is_expression("plain"))
      assert.is_nil(reader.is_expression(""))
      assert.is_nil(reader.is_expression("   "))
      assert.is_nil(reader.is_expression("x @(a)"))
      assert.is_nil(reader.is_expression("@(a) tail"))
      assert.is_nil(reader.is_expression("@(a) + @(b)"))
      assert.is_nil(reader.is_expression("@(a"))
      assert.is_nil(reader.is_expression("@(a}"))
      assert.is_nil(reader.is_expression('@("a)'))
      assert.is_nil(reader.is_expression(nil))
      assert.is_nil(reader.is_expression(42))
    end)

    it("does not decode entities a second time", function()
      assert.are.same({ "expr", '"&lt;"' }, { reader.is_expression('@("&lt;")') })
    end)

    it("agrees with the reader on a parsed value", function()
      local v = attr_value('<r><a v="@(&quot;a&quot; + $&quot;{b}&quot;)"/></r>')
      assert.are.same({ "expr", '"a" + $"{b}"' }, { reader.is_expression(v) })
    end)
  end)

  describe("errors", function()
    local cases = {
      { "unclosed element, named where it was opened",
        "<r>\n  <a>\n    <b/>\n",
        "t.xml:2:3: element <a> is never closed (add </a>)" },
      { "mismatched close tag",
        "<r>\n  <a>\n  </b>\n</r>",
        "t.xml:3:3: close tag </b> does not match <a> opened at 2:3 (close <a> first, or fix the name)" },
      { "close tag with nothing open",
        "</r>",
        "t.xml:1:1: close tag </r> has no open element to close" },
      { "close tag after the root",
        "<r/>\n</r>",
        "t.xml:2:1: close tag </r> after the root element <r> (closed at 1:1) has nothing to close (remove it)" },
      { "malformed close tag",
        "<r></r x>",
        "t.xml:1:4: close tag </r> must end with '>' and has no attributes" },
      { "close tag without a name",
        "<r></ >",
        "t.xml:1:4: '</' must be followed by the name of the element it closes" },
      { "unbalanced expression: missing ')' before the attribute's quote",
        '<r>\n  <a v="@(f("x")" />\n</r>',
        "t.xml:2:9: unbalanced expression @(: string literal opened at 2:17 is not closed on its line "
          .. "(add '\"'; if that quote was meant to end the value, a closing bracket is missing before it)" },
      { "unbalanced expression: a bracket never closed",
        "<r><a>@{ if (x) { y(); }</a></r>",
        "t.xml:1:7: unbalanced expression @{: '{' opened at 1:8 is never closed (add '}')" },
      { "unbalanced expression: wrong closing bracket",
        "<r><a>\n  @(x[1)</a></r>",
        "t.xml:2:3: unbalanced expression @(: ')' at 2:8 does not close '[' opened at 2:6 (expected ']')" },
      { "unbalanced expression: wrong bracket in an interpolation hole",
        '<r><a>@($"{x)}")</a></r>',
        "t.xml:1:7: unbalanced expression @(: ')' at 1:13 inside the interpolation hole '{' opened at 1:11 "
          .. "(expected '}')" },
      { "unbalanced expression: char literal",
        "<r><a>@(s.Split('x)\n)</a></r>",
        "t.xml:1:7: unbalanced expression @(: character literal opened at 1:17 is not closed on its line "
          .. "(add \"'\")" },
      { "unbalanced expression: verbatim string",
        '<r><a>@(@"abc)</a></r>',
        "t.xml:1:7: unbalanced expression @(: verbatim string opened at 1:9 is never closed (add '\"')" },
      { "unbalanced expression: interpolated string",
        '<r><a>@($"abc\n)</a></r>',
        "t.xml:1:7: unbalanced expression @(: interpolated string opened at 1:9 is not closed on its line "
          .. "(add '\"')" },
      { "unbalanced expression: verbatim interpolated string",
        '<r><a>@($@"abc)</a></r>',
        "t.xml:1:7: unbalanced expression @(: interpolated string opened at 1:9 is never closed (add '\"')" },
      { "unbalanced expression: hole",
        '<r><a>@($@"{abc',
        "t.xml:1:7: unbalanced expression @(: interpolation hole '{' opened at 1:12 is never closed (add '}')" },
      { "unbalanced expression: block comment",
        "<r><a>@{ /* x }</a></r>",
        "t.xml:1:7: unbalanced expression @{: comment opened at 1:10 is never closed (add '*/')" },
      { "attribute without a value",
        "<r><a v/></r>",
        "t.xml:1:7: attribute 'v' of <a> has no value (write v=\"...\")" },
      { "unquoted attribute value",
        "<r><a v=1/></r>",
        "t.xml:1:9: the value of attribute 'v' of <a> must be in quotes (write v=\"...\")" },
      { "attributes without a space between them",
        '<r><a v="1"w="2"/></r>',
        "t.xml:1:12: attribute 'w' of <a> must be separated from what precedes it by a space" },
      { "'<' in a plain attribute value (often a missing quote)",
        '<r><a v="x>\n<b/></r>',
        "t.xml:2:1: '<' inside the value of attribute 'v' of <a> opened at 1:9 (write &lt;, or add the "
          .. "missing closing quote)" },
      { "attribute value never closed",
        '<r><a v="x',
        "t.xml:1:9: the value of attribute 'v' of <a> is never closed (add the closing \")" },
      { "unexpected character in a tag",
        '<r><a "x"/></r>',
        "t.xml:1:7: unexpected '\"' in tag <a> (expected an attribute name, '>' or '/>')" },
      { "tag never closed",
        '<r><a v="1"',
        "t.xml:1:4: tag <a> is never closed (add '>' or '/>')" },
      { "duplicate attribute",
        '<r>\n  <a v="1" w="2" v="3"/>\n</r>',
        "t.xml:2:18: attribute 'v' is repeated on <a> (first at 2:6; keep one)" },
      { "text after the root element",
        "<r>\n</r>\n  x",
        "t.xml:3:3: text after the root element <r> (closed at 2:1); a policy document has one root element" },
      { "element after the root element",
        "<r/><s/>",
        "t.xml:1:5: element <s> after the root element <r> (closed at 1:1); a policy document has one "
          .. "root element" },
      { "text before the root element",
        "x<r/>",
        "t.xml:1:1: text before the root element (a policy document starts with an element such as "
          .. "<policies> or <fragment>)" },
      { "unknown entity",
        "<r>\n  <a>&nbsp;</a></r>",
        "t.xml:2:6: unknown entity '&nbsp;' (XML knows &lt; &gt; &amp; &quot; &apos;; write the character, "
          .. "a character reference like &#160;, or &amp; for a literal '&')" },
      { "unknown entity in an attribute",
        '<r><a v="a&b;"/></r>',
        "t.xml:1:11: unknown entity '&b;' (XML knows &lt; &gt; &amp; &quot; &apos;; write the character, "
          .. "a character reference like &#160;, or &amp; for a literal '&')" },
      { "bad character reference",
        "<r>&#0;</r>",
        "t.xml:1:4: bad character reference '&#0;' (write &#NN; or &#xHH; with a valid XML character)" },
      { "malformed character reference",
        "<r>&#xZZ;</r>",
        "t.xml:1:4: bad character reference '&#xZZ;' (write &#NN; or &#xHH; with a valid XML character)" },
      { "'<' that starts no tag",
        "<r>a < b</r>",
        "t.xml:1:6: '<' does not start a tag (write &lt; for a literal '<', or put it inside an expression @(...))" },
      { "comment never closed",
        "<r><!-- x</r>",
        "t.xml:1:4: comment is never closed (add '-->')" },
      { "CDATA never closed",
        "<r><![CDATA[x</r>",
        "t.xml:1:4: CDATA section is never closed (add ']]>')" },
      { "processing instruction never closed",
        "<?xml version='1.0'<r/>",
        "t.xml:1:1: processing instruction is never closed (add '?>')" },
      { "DOCTYPE",
        "<!DOCTYPE r><r/>",
        "t.xml:1:1: '<!' starts neither a comment nor CDATA (DOCTYPE and other declarations are not "
          .. "allowed in a policy document)" },
      { "empty document",
        "\n<!-- nothing -->\n",
        "t.xml:3:1: no root element (a policy document is an element such as <policies>...</policies>)" },
    }
    for _, case in ipairs(cases) do
      it(case[1], function()
        assert.are.equal(case[3], err_of(case[2]))
      end)
    end

    it("uses 'policy' when no file name is given and refuses non-strings", function()
      local _, err = reader.parse("<r>")
      assert.are.equal("policy:1:1: element <r> is never closed (add </r>)", err)
      assert.are.same({ nil, "x.xml: policy document is not a string" }, { reader.parse(nil, "x.xml") })
    end)
  end)

  describe("dump", function()
    it("prints one line per node with escaped values", function()
      local root = parse('<r a="x&quot;\ty">\n  <b>line1\nline2 \\</b>\n</r>')
      assert.are.equal('r a="x\\"\\ty" @1:1\n  b @2:3\n    #text "line1\\nline2 \\\\" @2:6\n',
        reader.dump(root))
    end)
  end)

  describe("golden vectors", function()
    local inputs = list(GOLDEN_DIR, "*.xml")
    it("exist", function()
      assert.is_true(#inputs >= 10)
    end)
    for _, input in ipairs(inputs) do
      local name = input:match("([^/]+)%.xml$")
      it(name, function()
        local root, err = reader.parse(assert(read_file(input)), name .. ".xml")
        local got = root and reader.dump(root) or ("error: " .. err .. "\n")
        local expected_path = GOLDEN_DIR .. "/" .. name .. ".expected"
        if os.getenv("READER_GOLDEN_UPDATE") then
          local f = assert(io.open(expected_path, "wb"))
          f:write(got)
          f:close()
        end
        assert.are.equal(assert(read_file(expected_path), "missing " .. expected_path), got)
      end)
    end
  end)

  describe("APIM policy snippets corpus", function()
    local files = list(CORPUS_DIR, "*.xml")
    if #files == 0 then
      it("is absent (" .. CORPUS_DIR .. "), skipped", function()
        print("reader_spec: corpus folder " .. CORPUS_DIR .. " not found; corpus check skipped")
      end)
      return
    end

    -- documents that are broken in the corpus itself, with the error they must give
    local BROKEN = {
      ["Call out to an HTTP endpoint and cache the response.policy.xml"] =
        "Call out to an HTTP endpoint and cache the response.policy.xml:40:28: unbalanced expression @{: "
        .. "string literal opened at 41:73 is not closed on its line (add '\"'; if that quote was meant to "
        .. "end the value, a closing bracket is missing before it)",
    }

    it("parses every document that is not broken", function()
      local parsed, failures = 0, {}
      for _, path in ipairs(files) do
        local name = path:match("[^/]+$")
        local root, err = reader.parse(assert(read_file(path)), name)
        if root then
          parsed = parsed + 1
          assert.is_nil(BROKEN[name], name .. " parses but is listed as broken")
        elseif BROKEN[name] then
          assert.are.equal(BROKEN[name], err)
        else
          failures[#failures + 1] = err
        end
      end
      print(string.format("reader_spec: corpus %d/%d documents parse", parsed, #files))
      assert.are.same({}, failures)
    end)

    it("finds every @( and @{ value whole, so the compiler sees one expression per value", function()
      local partial = {}
      local function visit(n, name)
        local values = {}
        if n.text then
          values[1] = n.text
        else
          for _, a in ipairs(n.attrs) do values[#values + 1] = a.value end
          for _, c in ipairs(n.children) do visit(c, name) end
        end
        for _, v in ipairs(values) do
          if v:find("^%s*@[({]") and not reader.is_expression(v) then
            partial[#partial + 1] = name .. ":" .. n.line .. ": " .. v:sub(1, 60)
          end
        end
      end
      for _, path in ipairs(files) do
        local name = path:match("[^/]+$")
        local root = reader.parse(assert(read_file(path)), name)
        if root then visit(root, name) end
      end
      assert.are.same({}, partial)
    end)
  end)

  describe("linear time", function()
    it("takes about four times as long for a document four times as large", function()
      local unit = '<set-header name="x" exists-action="override"><value>@(context.Request.Headers'
        .. '.GetValueOrDefault("a","") + "&&" + $"{x}")</value></set-header>'
        .. [[<set-variable name="v" value="@{ var s = @"a""b"; return s != "</x>" ? 'c' : '\''; }" />]]
      local function seconds(n, sep)
        local doc = "<policies><inbound>" .. string.rep(unit, n, sep) .. "</inbound></policies>"
        local t0 = os.clock()
        local root = parse(doc)
        local elapsed = os.clock() - t0
        assert.are.equal(2 * n, #el(root).children)
        return elapsed
      end
      for _, sep in ipairs { "", "\n" } do -- one long line, and many lines
        local small, large = seconds(2500, sep), seconds(10000, sep)
        assert.is_true(large < 8 * small + 0.05, ("2500 units: %.3f s, 10000 units: %.3f s"):format(small, large))
      end
    end)
  end)
end)
