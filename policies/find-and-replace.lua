-- find-and-replace.lua - <find-and-replace from="text" to="text"/>: replaces
-- every occurrence of `from` (plain text, not a pattern) in the body: the
-- request's in inbound and backend, the response's in outbound and on-error.
--
-- It reads the body, so the section is marked as reading it (c:needs_body):
-- C buffers that body for this request (engine.flags).

local compiler = require "portico.compiler"

local to_string = compiler.to_string
local find, sub, concat = string.find, string.sub, table.concat
local rawget = rawget

local M = {}

local function replace_all(text, from, to)
  local i = find(text, from, 1, true)
  if not i then return nil end
  local out, p = {}, 1
  while i do
    out[#out + 1] = sub(text, p, i - 1)
    out[#out + 1] = to
    p = i + #from
    i = find(text, from, p, true)
  end
  out[#out + 1] = sub(text, p)
  return concat(out)
end
M.replace_all = replace_all

local TARGET = {
  request = function(ctx) return ctx.request end,
  response = function(ctx) return ctx.response end,
  ["return"] = function(ctx) return ctx.building end,
}

-- The body text as it stands: nil when there is none to change (streamed and
-- not buffered, or already read without preserveContent).
local function text_of(msg, is_response)
  local b = rawget(msg, "body")
  if b then
    if b.consumed then return nil end
    return b.text
  end
  if is_response then return msg.body_text end
  return msg.ctx.req.body
end

function M.compile(node, c)
  c:check_attrs(node, { "from", "to" })
  local get_from, f_const, from = c:attr(node, "from", { required = true })
  local get_to, t_const, to = c:attr(node, "to", { required = true })
  if not (get_from and get_to) then return nil end
  if f_const and from == "" then
    return c:error(c:attr_entry(node, "from"), "<find-and-replace from>: the text to find is empty")
  end
  local which = c.message == "request" and "request" or "response"
  c:needs_body(which)
  local target, is_response = TARGET[c.message], which == "response"
  return function(ctx)
    local msg = target(ctx)
    local text = text_of(msg, is_response)
    if not text then return end
    local f = f_const and from or to_string(get_from(ctx))
    if f == "" then return end
    local out = replace_all(text, f, t_const and to or to_string(get_to(ctx)))
    if out then msg:set_body(out) end
  end
end

return M
