-- pipeline.lua - runs one request through a composed chain: inbound, backend,
-- outbound, and on-error when anything fails.
--
-- Owns: the order of sections, turning errors into context.LastError and
-- APIM's error responses, the forward yield to C (ENGINE.md), and the final
-- response table engine.run returns.
--
-- Does not own: what is in a section (compiler.lua), the object model
-- (context.lua), the socket work behind "forward" (C).

local context = require "portico.context"

local format, gsub, lower = string.format, string.gsub, string.lower
local yield = coroutine.yield
local pcall, type, tostring, rawget, ipairs = pcall, type, tostring, rawget, ipairs

local M = {}

-- What clients read when nothing else says (APIM's messages for its reasons).
local CLIENT_MESSAGE = {
  BackendConnectionFailure = "Backend connection failure",
  Timeout = "Backend did not respond in time",
  ExpressionValueEvaluationFailure = "Internal server error",
}

local function json_string(s)
  return '"' .. gsub(s, '[%c"\\]', function(c)
    if c == '"' then return '\\"' elseif c == "\\" then return "\\\\"
    elseif c == "\n" then return "\\n" elseif c == "\r" then return "\\r"
    elseif c == "\t" then return "\\t" end
    return format("\\u%04x", c:byte())
  end) .. '"'
end

-- APIM's error body, in the same shape the C core writes.
function M.error_body(status, message)
  return format('{"statusCode": %d, "message": %s}', status, json_string(message))
end

-- The error as a table with every LastError field, from a Failure, a Lua
-- error (an expression or a runaway stopped by C), and the running policy.
local function normalize(ctx, err)
  local cur = ctx.current or {}
  local e
  if context.is_failure(err) then
    e = {
      source = err.source or cur.source, reason = err.reason, message = err.message,
      status = err.status or 500, client_message = err.client_message, headers = err.headers,
    }
  else
    local msg = tostring(err)
    e = {
      source = cur.source or "policy", reason = "ExpressionValueEvaluationFailure",
      message = "Expression evaluation failed. " .. msg, status = 500,
    }
  end
  e.scope = cur.scope
  e.section = ctx.section
  e.path = cur.path
  e.policy_id = cur.policy_id
  -- a policy's own error (policy.fail, next issue's check-header...) tells the
  -- client its message, as APIM's do; expression and backend failures do not
  e.client_message = e.client_message or CLIENT_MESSAGE[e.reason]
    or (context.is_failure(err) and e.message) or "Internal server error"
  return e
end
M.normalize = normalize

local function error_response(e)
  local status = e.status or 500
  local headers = { { "Content-Type", "application/json" } }
  if e.headers then
    for _, h in ipairs(e.headers) do headers[#headers + 1] = { h[1], h[2] } end
  end
  return context.response(status, nil, headers, M.error_body(status, e.client_message))
end

------------------------------------------------------------------------------
-- forward-request

local FRAMING = { ["content-length"] = true, ["transfer-encoding"] = true }
local NO_OPTS = {}

local function drop_framing(list)
  local j, n = 0, #list
  for i = 1, n do
    local h = list[i]
    list[i] = nil
    if not FRAMING[lower(h[1])] then j = j + 1; list[j] = h end
  end
end

-- The request body to send: nil streams the client's body (C), a string
-- replaces it. A body read without preserveContent is gone (APIM). Also
-- whether a policy changed it (then the client's framing headers are stale).
local function body_to_send(request)
  local b = rawget(request, "body")
  if not b then return request.ctx.req.body, false end
  if b.consumed then return "", true end
  if b.set then return b.text or "", true end
  return b.text, false
end

M.body_to_send = body_to_send

local header_list = context.Request.header_list
local query_string = context.Request.query_string

-- Sends the request as it stands to the backend (a yield to C) and makes the
-- answer the context's response. opts: { timeout = ms, method, base_url, path,
-- query, backend_id, body } (overrides). Raises on a failed exchange.
function M.forward(ctx, opts)
  opts = opts or NO_OPTS
  local r = ctx.request
  local body, changed = body_to_send(r)
  if opts.body ~= nil then body, changed = opts.body, true end
  local headers = header_list(r)
  if changed then drop_framing(headers) end
  local backend_id = opts.backend_id
  local base_url = opts.base_url
  if not backend_id and not base_url then
    backend_id = r.backend_id or nil
    -- without set-backend-service C forwards to the API's own backend, with its
    -- credentials and TLS settings (the service URL alone would lose them)
    if not backend_id and r.backend_rank then base_url = r.base_url end
  end
  local fwd = {
    method = opts.method or r.method,
    base_url = base_url,
    backend_id = backend_id,
    path = opts.path or r.path,
    query = opts.query or query_string(r),
    headers = headers,
    body = body,
    timeout = opts.timeout,
    certificate = r.certificate, -- authentication-certificate: an index into certificates.<id>
    -- on success nothing more would run: C may stream the answer without resuming
    last = rawget(ctx, "ends_at_forward") and not rawget(ctx, "at_end_fns") and not rawget(ctx, "traces")
      and ctx.section == "backend" or nil,
  }
  local resp = yield("forward", fwd)
  if type(resp) ~= "table" then
    context.fail("BackendConnectionFailure", "no answer from the backend exchange", 500,
      "forward-request")
  end
  local err = resp.error
  if err then
    context.fail(err.Reason or err.reason or "BackendConnectionFailure",
      err.Message or err.message or "backend call failed", err.status or 500,
      err.Source or err.source or "forward-request", err.client_message)
  end
  local response = context.response(resp.status or 502, resp.reason, resp.headers, resp.body,
    resp.body == nil)
  ctx.response = response
  ctx.forwarded = true
  return response
end

-- One trace record (the trace policy, policy.trace): a JSON line on stderr
-- for now, and kept in the final response's `traces` for C.
local cjson_ok, cjson = pcall(require, "cjson")

-- Where trace lines go (false: nowhere, e.g. in tests).
M.trace_sink = function(line)
  if io and io.stderr then io.stderr:write(line, "\n") end
end

function M.trace(ctx, rec)
  rec.requestId = ctx.req.id
  rec.time = ctx.req.timestamp
  local traces = ctx.traces
  if not traces then traces = {}; ctx.traces = traces end
  traces[#traces + 1] = rec
  if cjson_ok and M.trace_sink then
    local ok, line = pcall(cjson.encode, rec)
    if ok then M.trace_sink(line) end
  end
end

-- Runs `fn(ctx, response)` once the request is done (after outbound or
-- on-error, on the response about to be sent): what policies that run in
-- inbound do at "the end of the outbound pipeline" (rate-limit-by-key's
-- deferred increment, remaining-calls headers, cors headers). Errors in `fn`
-- are ignored: the answer is decided by then.
function M.at_end(ctx, fn)
  local list = rawget(ctx, "at_end_fns")
  if not list then list = {}; ctx.at_end_fns = list end
  list[#list + 1] = fn
end

local function run_at_end(ctx)
  local list = rawget(ctx, "at_end_fns")
  if not list then return end
  local resp = ctx.returned or ctx.response
  for i = 1, #list do pcall(list[i], ctx, resp) end
end

-- Ends the pipeline with `response` (return-response, mock-response).
function M.finish(ctx, response)
  ctx.returned = response
  ctx.stopped = true
end

-- Answers with `response` as if the backend had (cache-lookup's hit): the rest
-- of inbound and the backend section are skipped, outbound still runs.
function M.serve(ctx, response)
  ctx.response = response
  ctx.served = true
  ctx.stopped = true
end

------------------------------------------------------------------------------
-- the final response

local outgoing, response_list = context.Response.outgoing, context.Response.list

local function final(ctx)
  local resp = ctx.returned or ctx.response
  local body, changed = outgoing(resp)
  local headers = response_list(resp)
  if changed then drop_framing(headers) end
  local out = { status = resp.status, reason = resp.reason, headers = headers,
    body = body, streamed = body == nil }
  local e = ctx.error
  if e then
    out.error = { reason = e.reason, message = e.message, source = e.source, section = e.section }
  end
  if ctx.traces then out.traces = ctx.traces end
  return out
end

local function on_error(chain, ctx, err)
  local e = normalize(ctx, err)
  ctx.error = e
  ctx.last_error = context.last_error(e)
  ctx.response = error_response(e)
  ctx.returned = false
  ctx.stopped = false
  if chain.has_on_error then
    ctx.section = "on-error"
    local ok, err2 = pcall(chain.on_error, ctx)
    if not ok then
      -- an error inside on-error is not handled again (APIM): its default answer
      local e2 = normalize(ctx, err2)
      ctx.error = e2
      ctx.response = error_response(e2)
      ctx.returned = false
    end
  end
end

-- Runs one request (in the coroutine C made); returns the final response.
function M.run(chain, req, info)
  local ctx = context.new(req, info)
  rawset(ctx, "ends_at_forward", chain.ends_at_forward)
  local ok, err = pcall(chain.inbound, ctx)
  if ok and rawget(ctx, "served") then
    ctx.stopped = false -- served from the cache (M.serve): on to outbound
  elseif ok and not ctx.stopped then
    ctx.section = "backend"
    ok, err = pcall(chain.backend, ctx)
  end
  if ok and not ctx.stopped then
    ctx.section = "outbound"
    ok, err = pcall(chain.outbound, ctx)
  end
  if not ok then on_error(chain, ctx, err) end
  run_at_end(ctx)
  return final(ctx), ctx
end

-- For errors outside any chain (no policy for an API...): the APIM answer.
function M.error_response(status, reason, message)
  local e = { status = status, reason = reason, client_message = message, message = message }
  local ctx = { response = error_response(e), error = e }
  return final(ctx)
end

return M
