-- send-request.lua - <send-request mode="new|copy" response-variable-name="r"
-- timeout="60" ignore-error="false"> with <set-url>, <set-method>, <set-header>
-- and <set-body> children: calls another service (a "send" yield, ENGINE.md)
-- and stores the answer in context.Variables as an IResponse (StatusCode,
-- StatusReason, Headers, Body.As<T>()), the object context.Response is.
--
-- Owns the call a send policy builds (M.compile_call, also used by
-- send-one-way-request.lua): mode="copy" starts from the request as it
-- stands (method, URL, headers, and in inbound/backend its body), mode="new"
-- from nothing. The children act on the call, never on context.Request.
-- Does not own the sockets (C runs the calls, with its pools, TLS and
-- self-chaining rules) nor running calls side by side (wait.lua).

local context = require "portico.context"
local compiler = require "portico.compiler"
local pipeline = require "portico.pipeline"
local valuelist = require "portico.valuelist"

local lower, upper, match, format = string.lower, string.upper, string.match, string.format
local ipairs, type = ipairs, type
local concat = table.concat
local yield = coroutine.yield

local to_string = compiler.to_string

local M = {}

local CHILDREN = { "set-url", "set-method", "set-header", "set-body" }
local CHILD_SET = { ["set-url"] = true, ["set-method"] = true, ["set-header"] = true,
  ["set-body"] = true }
local TOKEN = "^[!#$%%&'*+%-.^_`|~%w]+$"
local DEFAULT_PORT = { http = 80, https = 443 }
-- not copied from the request: C writes them for the call's own URL and body
local NOT_COPIED = { host = true, ["content-length"] = true, ["transfer-encoding"] = true,
  connection = true, ["keep-alive"] = true, te = true, upgrade = true,
  ["proxy-connection"] = true, trailer = true }
-- headers set-header leaves alone (as on the request)
local MANAGED = { connection = true, ["content-length"] = true, ["keep-alive"] = true,
  ["transfer-encoding"] = true }

M.ALL = { any = false }  -- the opts of a send yield made alone (C must not change it)

local function is_url(s) return type(s) == "string" and match(s, "^[hH][tT][tT][pP][sS]?://[^/?#]") end

-- The URL of the request as it would be forwarded now.
local function current_url(request)
  local scheme, host, port, path, query = request:url_parts()
  local s = scheme .. "://" .. host
  if port and port ~= DEFAULT_PORT[scheme] then s = s .. ":" .. port end
  s = s .. path
  if query and query ~= "" then s = s .. "?" .. query end
  return s
end

local function copy_headers(list)
  local out = {}
  for _, h in ipairs(list) do
    if not NOT_COPIED[lower(h[1])] then out[#out + 1] = { h[1], h[2] } end
  end
  return out
end

------------------------------------------------------------------------------
-- children: each compiles to function(ctx, call)

local function compile_url(el, c)
  c:check_attrs(el, {})
  local get, is_const, url = c:text(el, { required = true })
  if not get then return nil end
  if is_const then
    if not is_url(url) then
      return c:error(el, "<set-url>: '%s' is not an http or https URL", url)
    end
    return function(_, call) call.url = url end
  end
  local where = c:where(el)
  return function(ctx, call)
    local u = get(ctx)
    if not is_url(u) then
      context.fail("ExpressionValueEvaluationFailure", format("%s: <set-url> evaluated to '%s', "
        .. "which is not an http or https URL", where, to_string(u)))
    end
    call.url = u
  end
end

local function compile_method(el, c)
  c:check_attrs(el, {})
  local get, is_const, m = c:text(el, { required = true })
  if not get then return nil end
  if is_const then
    if not match(m, TOKEN) then return c:error(el, "<set-method>: '%s' is not an HTTP method", m) end
    m = upper(m)
    return function(_, call) call.method = m end
  end
  local where = c:where(el)
  return function(ctx, call)
    local v = get(ctx)
    if type(v) ~= "string" or not match(v, TOKEN) then
      context.fail("ExpressionValueEvaluationFailure", format("%s: <set-method> evaluated to '%s', "
        .. "which is not an HTTP method", where, to_string(v)))
    end
    call.method = upper(v)
  end
end

local function sending_headers(ctx) return ctx.sending.headers end
local function managed(name) return MANAGED[lower(name)] end

-- set-header's shape on the call being built (`ctx.sending`, set by build)
local function compile_header(el, c)
  local fn = valuelist.compile(el, c, sending_headers, managed)
  if not fn then return nil end
  return function(ctx) fn(ctx) end
end

local function compile_body(el, c)
  c:check_attrs(el, { "template", "xsi-nil", "parse-date" })
  local template = c:attr_entry(el, "template")
  if template then
    return c:error(template, "<set-body template=\"%s\">: templates (Liquid) are not supported; "
      .. "use a policy expression @{ ... } instead", template.value)
  end
  local get, is_const, text = c:text(el, { type = "any", default = "" })
  if not get then return nil end
  if is_const then
    text = to_string(text)
    return function(_, call) call.body = text end
  end
  return function(ctx, call)
    local v = get(ctx)
    call.body = v == nil and "" or to_string(v)
  end
end

local COMPILE = { ["set-url"] = compile_url, ["set-method"] = compile_method,
  ["set-header"] = compile_header, ["set-body"] = compile_body }

------------------------------------------------------------------------------
-- the call

-- Compiles the mode attribute and the children of a send policy `node`.
-- Returns build(ctx) -> call ({ method, url, headers = {{n,v},...}, body }),
-- or nil after recording errors; the caller adds timeout (compile_timeout).
-- The call never carries Host nor framing headers: C writes them for the
-- call's URL and body (set-header cannot set them, as on the request).
function M.compile_call(node, c)
  local get_mode, mode_const, mode = c:attr(node, "mode", { values = { "new", "copy" },
    default = "new" })
  local ok = get_mode ~= nil
  local steps, has_url = {}, false
  for _, el in ipairs((c:elements(node))) do
    local name = el.name
    if CHILD_SET[name] then
      local fn = COMPILE[name](el, c)
      if fn then steps[#steps + 1] = fn else ok = false end
      if name == "set-url" then has_url = true end
    elseif compiler.PLANNED[name] then
      c:error(el, "policy %s is not supported inside <%s> (planned: traffic and integration "
        .. "policies)", name, node.name)
      ok = false
    else
      c:error(el, "<%s> is not allowed in <%s> (expected %s)", name, node.name,
        concat(CHILDREN, ", "))
      ok = false
    end
  end
  if not ok then return nil end
  if mode_const and mode == "new" and not has_url then
    return c:error(node, "<%s mode=\"new\">: <set-url> is required (or mode=\"copy\")", node.name)
  end
  -- APIM: "in the outbound section, mode=copy does not initialize the request body"
  local copy_body = c.message == "request"
  if (not mode_const or mode == "copy") and copy_body then c:needs_body("request") end
  local where = c:where(node)
  local n = #steps
  return function(ctx)
    local m = mode_const and mode or get_mode(ctx)
    local call
    if m == "copy" then
      local r = ctx.request
      call = { method = r.method, url = current_url(r),
        headers = context.headers(copy_headers(r:header_list())) }
      if copy_body then call.body = pipeline.body_to_send(r) end
    else
      call = { method = "GET", headers = context.headers({}) }
    end
    ctx.sending = call
    for i = 1, n do steps[i](ctx, call) end
    ctx.sending = false
    if not call.url then
      context.fail("ExpressionValueEvaluationFailure", where .. ": <" .. node.name
        .. " mode=\"new\"> has no <set-url>")
    end
    return { method = call.method, url = call.url, headers = call.headers.list, body = call.body }
  end
end

-- The timeout attribute (seconds, default 60) as a getter of milliseconds.
function M.compile_timeout(node, c)
  local get, is_const, secs = c:attr(node, "timeout", { type = "int", default = 60 })
  if not get then return nil end
  if is_const then
    if secs < 0 then return c:error(node, "<%s>: timeout %d is negative", node.name, secs) end
    local ms = secs > 0 and secs * 1000 or nil
    return function() return ms end
  end
  return function(ctx)
    local s = get(ctx)
    return (s and s > 0) and s * 1000 or nil
  end
end

function M.compile(node, c)
  c:check_attrs(node, { "mode", "response-variable-name", "timeout", "ignore-error" })
  local get_var, var_const, var = c:attr(node, "response-variable-name", { required = true })
  local get_ignore, _, ignore = c:attr(node, "ignore-error", { type = "bool", default = false,
    expr = false })
  local timeout = M.compile_timeout(node, c)
  local build = M.compile_call(node, c)
  if not (get_var and get_ignore and timeout and build) then return nil end
  if var_const and var == "" then
    return c:error(node, "<send-request>: response-variable-name is empty")
  end
  local where = c:where(node)
  local ALL, NULL, response, fail = M.ALL, context.NULL, context.response, context.fail
  return function(ctx)
    local name = var_const and var or to_string(get_var(ctx))
    local call = build(ctx)
    call.timeout = timeout(ctx)
    local results = yield("send", { call }, ALL)
    local r = type(results) == "table" and results[1] or nil
    local err = type(r) ~= "table" and { Message = "no answer from the call" } or r.error
    if err then
      if ignore then
        ctx.variables[name] = NULL
        return
      end
      fail(err.Reason or err.reason or "BackendConnectionFailure", where .. ": " .. call.method
        .. " " .. call.url .. ": " .. (err.Message or err.message or "the call failed"), 500,
        "send-request")
    end
    ctx.variables[name] = response(r.status or 502, r.reason, r.headers or {}, r.body or "", false)
  end
end

return M
