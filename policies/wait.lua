-- wait.lua - <wait for="all|any"> around <send-request>, <cache-lookup-value>
-- and <choose> children: runs the children side by side and goes on when all
-- of them (or the first one) are done.
--
-- Each child runs in a Lua coroutine of its own. The calls children yield
-- ("send", one call each for send-request) are gathered into ONE "send" yield
-- to C, with opts.any for for="any"; each child is then resumed with its own
-- results. Children that do not send simply run to their end. A yield that
-- cannot join a batch (a retry's "sleep", a one-way call, a nested <wait> of
-- the other kind) is passed to C alone, and that child resumed with C's answer.
--
-- for="any": the first child to finish ends the wait; the others stop where
-- they are (a child none of whose calls came back, C having canceled them,
-- is dropped). A child still running after its calls came back runs on alone.
-- Does not own what the children do, nor the sockets (C).

local create, resume, status, yield = coroutine.create, coroutine.resume, coroutine.status,
  coroutine.yield
local error, type, ipairs = error, type, ipairs
local pack, unpack, concat = table.pack, table.unpack, table.concat

local M = {}

M.sections = { "inbound", "backend", "outbound" }

local CHILDREN = { "send-request", "cache-lookup-value", "choose" }
local ANY, ALL = { any = true }, { any = false }

-- a pending yield { what, calls, opts } that may join a batch of kind `any`:
-- calls that wait for an answer, one of them (a send-request) or several of
-- the same kind (a nested <wait>)
local function batchable(p, any)
  local calls = p[2]
  if p[1] ~= "send" or type(calls) ~= "table" or #calls == 0 then return false end
  for _, call in ipairs(calls) do
    if call.one_way then return false end
  end
  if #calls == 1 then return true end
  local opts = p[3]
  return ((type(opts) == "table" and opts.any) or false) == any
end

local function all_canceled(results, first, count)
  for i = first, first + count - 1 do
    local r = results[i]
    local e = type(r) == "table" and r.error
    if not (e and (e.Reason or e.reason) == "Canceled") then return false end
  end
  return true
end

-- Runs `steps` (one function(ctx) per child) side by side.
local function run(ctx, steps, metas, any)
  local n = #steps
  local cos, cur, pend = {}, {}, {}
  local live = 0
  local saved = ctx.current

  -- resumes child i; returns true when the wait is over (for="any" and the
  -- child is done, or the pipeline was stopped); raises the child's error
  local function step(i, ...)
    ctx.current = cur[i]
    local ok, what, a, b = resume(cos[i], ...)
    cur[i] = ctx.current
    if not ok then error(what, 0) end
    if status(cos[i]) == "dead" then
      cos[i], pend[i] = nil, nil
      live = live - 1
      return any or ctx.stopped
    end
    pend[i] = { what, a, b }
    return ctx.stopped
  end

  for i = 1, n do
    local fn, meta = steps[i], metas[i]
    cos[i] = create(function(c) c.current = meta; return fn(c) end)
    cur[i] = meta
    live = live + 1
  end
  for i = 1, n do
    if step(i, ctx) then ctx.current = saved; return end
  end
  while live > 0 do
    -- what cannot join the batch goes to C alone
    for i = 1, n do
      local p = pend[i]
      while p and not batchable(p, any) do
        local answer = pack(yield(p[1], p[2], p[3]))
        if step(i, unpack(answer, 1, answer.n)) then ctx.current = saved; return end
        p = pend[i]
      end
    end
    -- one batch of every child's calls
    local calls, first, count = {}, {}, {}
    for i = 1, n do
      local p = pend[i]
      if p then
        first[i], count[i] = #calls + 1, #p[2]
        for _, call in ipairs(p[2]) do calls[#calls + 1] = call end
      end
    end
    if #calls == 0 then break end
    local results = yield("send", calls, any and ANY or ALL)
    if type(results) ~= "table" then results = {} end
    for i = 1, n do
      if first[i] then
        if any and all_canceled(results, first[i], count[i]) then
          cos[i], pend[i] = nil, nil
          live = live - 1
        else
          local mine = {}
          for k = 1, count[i] do mine[k] = results[first[i] + k - 1] end
          if step(i, mine) then ctx.current = saved; return end
        end
      end
    end
  end
  ctx.current = saved
end
M.run = run

function M.compile(node, c)
  c:check_attrs(node, { "for" })
  local get_for, for_const, mode = c:attr(node, "for", { values = { "all", "any" },
    default = "all" })
  local _, ok = c:elements(node, CHILDREN)
  if not ok or not get_for then return nil end
  local steps, metas = c:steps(node)
  if not steps then return nil end
  if #steps == 0 then return c:error(node, "<wait> needs at least one child (%s)",
    concat(CHILDREN, ", ")) end
  if for_const then
    local any = mode == "any"
    return function(ctx) return run(ctx, steps, metas, any) end
  end
  return function(ctx) return run(ctx, steps, metas, get_for(ctx) == "any") end
end

return M
