-- xmlconv.lua - what json-to-xml and xml-to-json share: reading XML with
-- expat (lua-expat, `require "lxp"`, preloaded by C), the apply /
-- consider-accept-header rules, and swapping a message's body and
-- Content-Type.
--
-- Does not own: the two mappings (policies/json-to-xml.lua, xml-to-json.lua).

local lower, find, gmatch, match = string.lower, string.find, string.gmatch, string.match
local rawget, pcall, require = rawget, pcall, require

local M = {}

-- Whether expat is there (C preloads "lxp"; tests find Debian's lxp.so).
function M.available() return (pcall(require, "lxp")) end

-- XML text -> { decl = { version, encoding } or nil, root = element } where an
-- element is { name, attrs = { {n, v}, ... }, children = { element | { text } } };
-- nil when the text is not well-formed or has a DOCTYPE (no entity tricks).
function M.parse_xml(text)
  local ok_lxp, lxp = pcall(require, "lxp")
  if not ok_lxp then return nil end
  local doc, stack, bad = {}, {}, false
  local parser
  parser = lxp.new({
    XmlDecl = function(_, version, encoding) doc.decl = { version = version, encoding = encoding } end,
    StartDoctypeDecl = function() bad = true; parser:stop() end,
    StartElement = function(_, name, attrs)
      local el = { name = name, attrs = {}, children = {} }
      for i = 1, #attrs do el.attrs[i] = { attrs[i], attrs[attrs[i]] } end
      local top = stack[#stack]
      if top then top.children[#top.children + 1] = el else doc.root = el end
      stack[#stack + 1] = el
    end,
    EndElement = function() stack[#stack] = nil end,
    CharacterData = function(_, t)
      local top = stack[#stack]
      if not top then return end
      local last = top.children[#top.children]
      if last and last.text then last.text = last.text .. t
      else top.children[#top.children + 1] = { text = t } end
    end,
  })
  local okp, ok = pcall(parser.parse, parser, text)
  ok = okp and ok
  if ok then okp, ok = pcall(parser.parse, parser); ok = okp and ok end
  pcall(parser.close, parser) -- raises on an unfinished document
  if not ok or bad or not doc.root then return nil end
  return doc
end

-- Whether media type `want` ("json", "xml") is in an Accept header value
-- (absent, "*/*" and "application/*" accept anything).
local function accepts(accept, want)
  if not accept or accept == "" then return true end
  for range in gmatch(accept, "[^,]+") do
    local t = lower(match(range, "^%s*([^;%s]*)") or "")
    if t == "*/*" or t == "application/*" or find(t, want, 1, true) then return true end
  end
  return false
end
M.accepts = accepts

-- apply="always|<ct_value>" and consider-accept-header: returns
-- should(ctx, headers) -> bool, or nil after an error. `ct_word`: what the
-- Content-Type must mention for <ct_value>; `accept_word`: what Accept asks.
function M.compile_apply(node, c, ct_value, ct_word, accept_word)
  local get_apply = c:attr(node, "apply", { required = true, values = { "always", ct_value } })
  local get_accept = c:attr(node, "consider-accept-header", { type = "bool", default = true })
  local _ = c:attr(node, "parse-date", { type = "bool", expr = false })
  if not (get_apply and get_accept) then return nil end
  return function(ctx, headers)
    if get_apply(ctx) ~= "always" then
      local ct = headers:get("Content-Type")
      if not ct or not find(lower(ct), ct_word, 1, true) then return false end
    end
    if get_accept(ctx) and not accepts(ctx.request.headers:get("Accept"), accept_word) then
      return false
    end
    return true
  end
end

-- The body text of a request or response as it stands, or nil (none, not
-- buffered, or already read without preserveContent).
local function text_of(msg, is_response)
  local b = rawget(msg, "body")
  if b then
    if b.consumed then return nil end
    return b.text
  end
  if is_response then return msg.body_text end
  return msg.ctx.req.body
end
M.text_of = text_of

-- The runtime function: on the section's message, when should(), the body
-- becomes convert(ctx, text) (nil: left alone) with `content_type`.
function M.runner(c, should, convert, content_type)
  local which = c.message == "request" and "request" or "response"
  c:needs_body(which)
  local is_response = which == "response"
  return function(ctx)
    local msg = is_response and ctx.response or ctx.request
    if not should(ctx, msg.headers) then return end
    local text = text_of(msg, is_response)
    if not text or text == "" then return end
    local out = convert(ctx, text)
    if not out then return end
    msg:set_body(out)
    msg.headers:set("Content-Type", content_type)
  end
end

return M
