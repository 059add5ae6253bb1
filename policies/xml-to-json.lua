-- xml-to-json.lua - <xml-to-json kind="direct|javascript-friendly"
-- apply="always|content-type-xml" consider-accept-header="true"
-- always-array-child-elements="false"/>: converts the body (the request's in
-- inbound, the response's in outbound and on-error) from XML to JSON, with
-- expat (lua-expat, `require "lxp"`) and the runtime's order-keeping JSON.
--
-- direct (Newtonsoft's shape): the root element is the one property; the XML
-- declaration gives "version"/"encoding"; attributes are "@name"; text beside
-- attributes or children is "#text"; an empty element is null; repeated
-- children become an array; ":" in names becomes "$".
-- javascript-friendly: no declaration, no namespace prefixes nor xmlns
-- attributes, attributes as plain properties.
-- A body that is not well-formed XML (or has a DOCTYPE) is left as it is.

local compiler = require "portico.compiler"
local xmlconv = require "portico.xmlconv"

local ipairs, pairs = ipairs, pairs
local gsub, match, concat = string.gsub, string.match, table.concat

local M = {}

M.sections = { "inbound", "outbound", "on-error" }

local function new_obj(rt) return rt.new_jobject() end
local function put(o, k, v)
  if o.map[k] == nil then o.keys[#o.keys + 1] = k end
  o.map[k] = v
end

local function convert(rt, el, friendly, arrays)
  local function name_of(n)
    if friendly then return match(n, "[^:]*$") end
    return (gsub(n, ":", "$"))
  end
  local o, has = new_obj(rt), false
  for _, a in ipairs(el.attrs) do
    local n = a[1]
    if not (friendly and (n == "xmlns" or match(n, "^xmlns:"))) then
      put(o, friendly and name_of(n) or "@" .. name_of(n), a[2]); has = true
    end
  end
  local texts, groups = {}, {}
  for _, ch in ipairs(el.children) do
    if ch.text then
      if match(ch.text, "%S") then texts[#texts + 1] = ch.text end
    else
      local k = name_of(ch.name)
      local arr = groups[k]
      if not arr then
        arr = rt.new_jarray()
        groups[k] = arr
        put(o, k, arr)
      end
      arr.n = arr.n + 1
      arr[arr.n] = convert(rt, ch, friendly, arrays)
      has = true
    end
  end
  for k, arr in pairs(groups) do
    if arr.n == 1 and not arrays then o.map[k] = arr[1] end
  end
  local text = #texts > 0 and concat(texts) or nil
  if not has then
    if text then return text end
    return rt.JNULL
  end
  if text then put(o, "#text", text) end
  return o
end

local function to_json(rt, text, friendly, arrays)
  local doc = xmlconv.parse_xml(text)
  if not doc then return nil end
  local top = new_obj(rt)
  if doc.decl and not friendly then
    put(top, "version", doc.decl.version)
    if doc.decl.encoding then put(top, "encoding", doc.decl.encoding) end
  end
  local root = doc.root
  put(top, friendly and match(root.name, "[^:]*$") or (gsub(root.name, ":", "$")),
    convert(rt, root, friendly, arrays))
  return rt.json_text(top, false)
end

function M.compile(node, c)
  c:check_attrs(node, { "kind", "apply", "consider-accept-header", "always-array-child-elements",
    "always-array-children" })
  local get_kind = c:attr(node, "kind", { required = true, values = { "javascript-friendly", "direct" } })
  local get_arrays = c:attr(node, "always-array-child-elements", { type = "bool", default = false })
  local get_arrays2 = c:attr(node, "always-array-children", { type = "bool", default = false })
  local should = xmlconv.compile_apply(node, c, "content-type-xml", "xml", "json")
  if not (get_kind and get_arrays and get_arrays2 and should) then return nil end
  if not xmlconv.available() then
    return c:error(node, "<xml-to-json>: the XML parser is missing (lua-expat, module 'lxp')")
  end
  return xmlconv.runner(c, should, function(ctx, text)
    local rt = compiler.runtime()
    return to_json(rt, text, get_kind(ctx) == "javascript-friendly",
      get_arrays(ctx) or get_arrays2(ctx))
  end, "application/json")
end

return M
