-- send-one-way-request.lua - <send-one-way-request mode="new|copy" timeout="60">
-- with <set-url>, <set-method>, <set-header>, <set-body> children: sends the
-- call and goes on without its answer (a "send" yield with one_way = true;
-- C resumes at once, ENGINE.md). Its failures are never seen: fire and forget.
--
-- The call is built as send-request builds it (send-request.lua, compile_call).

local send = require "send-request"

local yield = coroutine.yield

local M = {}

function M.compile(node, c)
  c:check_attrs(node, { "mode", "timeout" })
  local timeout = send.compile_timeout(node, c)
  local build = send.compile_call(node, c)
  if not (timeout and build) then return nil end
  local ALL = send.ALL
  return function(ctx)
    local call = build(ctx)
    call.timeout = timeout(ctx)
    call.one_way = true
    yield("send", { call }, ALL)
  end
end

return M
