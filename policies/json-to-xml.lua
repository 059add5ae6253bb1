-- json-to-xml.lua - <json-to-xml apply="always|content-type-json"
-- consider-accept-header="true" parse-date="true" namespace-separator=":"
-- namespace-prefix="xmlns" attribute-block-name="#attrs"/>: converts the body
-- (the request's in inbound, the response's in outbound and on-error) from
-- JSON to XML, keeping the order of properties.
--
-- An object with one property (not an array) gives the root element;
-- anything else is wrapped in <Document> (a top-level array's values are
-- <Item> elements in it). An array repeats its property's
-- element; null is an empty element. Properties named like namespace-prefix
-- become namespace declarations, the properties of attribute-block-name
-- become attributes; namespace-separator, when given, stands for ":" in
-- names. Names that are not XML names are encoded like .NET's
-- XmlConvert.EncodeName (_x0020_). Dates are copied as they are (parse-date
-- is accepted, and nothing is parsed). A body that is not JSON is left alone.

local compiler = require "portico.compiler"
local xmlconv = require "portico.xmlconv"

local byte, find, format, gsub, sub = string.byte, string.find, string.format, string.gsub, string.sub
local concat, ipairs, type, pcall, getmetatable = table.concat, ipairs, type, pcall, getmetatable
local tostring, mtype = tostring, math.type

local M = {}

M.sections = { "inbound", "outbound", "on-error" }

local ESC = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }
local function esc(s) return (gsub(s, '[&<>"]', ESC)) end

local function encode_name(n, sep)
  if sep and sep ~= ":" and sep ~= "" then n = gsub(n, "%" .. sub(sep, 1, 1), ":") end
  if n == "" then return "_" end
  local function hex(ch) return format("_x%04X_", byte(ch)) end
  n = gsub(n, "[^%w_%.%-:\128-\255]", hex)
  return (gsub(n, "^[%d%.%-]", hex))
end

local function scalar(rt, v)
  if type(v) == "string" then return v end
  if type(v) == "boolean" then return v and "true" or "false" end
  if mtype(v) == "integer" then return tostring(v) end
  if type(v) == "number" then return rt.json_text(v, false) end
  return nil
end

local function is(rt, v, cls) return type(v) == "table" and getmetatable(v) == cls end

local function element(rt, o, name, v)
  local out = o.out
  if is(rt, v, rt.JArrayClass) then
    for i = 1, v.n do element(rt, o, name, v[i]) end
    return
  end
  local tag = encode_name(name, o.sep)
  out[#out + 1] = "<" .. tag
  if not is(rt, v, rt.JObjectClass) then
    local s = scalar(rt, v)
    if s == nil then out[#out + 1] = " />"; return end
    out[#out + 1] = ">" .. esc(s) .. "</" .. tag .. ">"
    return
  end
  local children = {}
  for _, k in ipairs(v.keys) do
    local val = v.map[k]
    if o.block and k == o.block and is(rt, val, rt.JObjectClass) then
      for _, ak in ipairs(val.keys) do
        out[#out + 1] = " " .. encode_name(ak, o.sep) .. '="' .. esc(scalar(rt, val.map[ak]) or "") .. '"'
      end
    elseif o.prefix and sub(k, 1, #o.prefix) == o.prefix and scalar(rt, val) then
      out[#out + 1] = " " .. encode_name(k, o.sep) .. '="' .. esc(scalar(rt, val)) .. '"'
    else
      children[#children + 1] = k
    end
  end
  if #children == 0 then out[#out + 1] = " />"; return end
  out[#out + 1] = ">"
  for _, k in ipairs(children) do element(rt, o, k, v.map[k]) end
  out[#out + 1] = "</" .. tag .. ">"
end

local function to_xml(rt, text, opts)
  local ok, v = pcall(rt.json_parse, text, "JToken")
  if not ok then return nil end
  opts.out = {}
  if is(rt, v, rt.JObjectClass) and #v.keys == 1 and not is(rt, v.map[v.keys[1]], rt.JArrayClass)
    and not (opts.prefix and find(v.keys[1], opts.prefix, 1, true) == 1) then
    element(rt, opts, v.keys[1], v.map[v.keys[1]])
  elseif is(rt, v, rt.JArrayClass) then
    opts.out[1] = "<Document>"
    element(rt, opts, "Item", v)
    opts.out[#opts.out + 1] = "</Document>"
  else
    element(rt, opts, "Document", v)
  end
  return concat(opts.out)
end

function M.compile(node, c)
  c:check_attrs(node, { "apply", "consider-accept-header", "parse-date", "namespace-separator",
    "namespace-prefix", "attribute-block-name" })
  local get_sep = c:attr(node, "namespace-separator")
  local get_prefix = c:attr(node, "namespace-prefix")
  local get_block = c:attr(node, "attribute-block-name")
  local should = xmlconv.compile_apply(node, c, "content-type-json", "json", "xml")
  if not (get_sep and get_prefix and get_block and should) then return nil end
  return xmlconv.runner(c, should, function(ctx, text)
    local function opt(get)
      local v = get(ctx)
      if v == nil or v == "" then return nil end
      return compiler.to_string(v)
    end
    return to_xml(compiler.runtime(), text,
      { sep = opt(get_sep), prefix = opt(get_prefix), block = opt(get_block) })
  end, "application/xml")
end

return M
