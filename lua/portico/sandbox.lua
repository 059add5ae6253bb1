-- sandbox.lua - the environment that policy expressions, user policy modules
-- and Lua policy documents run in.
--
-- Owns: the allow-list of globals and the read-only wrappers around the
-- standard libraries. Does not own the instruction budget or the memory cap:
-- C sets those on the whole state (ENGINE.md).
--
-- What is left out and why: io, os, require, load, loadfile, dofile (files,
-- processes, new code), debug (reaches every upvalue), collectgarbage
-- (the memory cap is C's), coroutine (a stray yield would reach C as a
-- forward request), string.dump (bytecode), rawset (bypasses read-only),
-- print (stdout belongs to the gateway).

local M = {}

local getmetatable, setmetatable, error, type, tostring =
  getmetatable, setmetatable, error, type, tostring
local rawget, pairs = rawget, pairs

-- A library table as a read-only proxy: sandboxed code shares it with
-- every other policy of the state, so it must not be able to change it.
local function frozen(lib, name, leave_out)
  local t = {}
  for k, v in pairs(lib) do
    if not (leave_out and leave_out[k]) then t[k] = v end
  end
  return setmetatable({}, {
    __index = t,
    __newindex = function(_, k)
      error(name .. "." .. tostring(k) .. " is read-only", 2)
    end,
    __metatable = false,
  })
end

-- getmetatable on a string would hand out the string metatable, shared by
-- the whole state (gateway code included).
local function safe_getmetatable(v)
  if type(v) == "string" then return nil end
  return getmetatable(v)
end

local BASE = {
  assert = assert, error = error, ipairs = ipairs, next = next, pairs = pairs,
  pcall = pcall, xpcall = xpcall, select = select, tonumber = tonumber,
  tostring = tostring, type = type, rawequal = rawequal, rawlen = rawlen,
  rawget = rawget, setmetatable = setmetatable, getmetatable = safe_getmetatable,
  _VERSION = _VERSION,
  string = frozen(string, "string", { dump = true }),
  table = frozen(table, "table"),
  math = frozen(math, "math"),
  utf8 = frozen(utf8, "utf8"),
}

M.ALLOWED = BASE

-- A fresh environment: BASE plus `extra` (e.g. { policy = api }), read-only;
-- reading an unknown global is an error, as is assigning any global.
function M.env(extra)
  local globals = {}
  for k, v in pairs(BASE) do globals[k] = v end
  if extra then
    for k, v in pairs(extra) do globals[k] = v end
  end
  local env = {}
  setmetatable(env, {
    __index = function(_, k)
      local v = rawget(globals, k)
      if v == nil then
        error("unknown global '" .. tostring(k) .. "' (policy code sees only its "
          .. "own locals and the sandbox: no io, os, require, load, debug)", 2)
      end
      return v
    end,
    __newindex = function(_, k)
      error("assignment to global '" .. tostring(k) .. "': use local", 2)
    end,
    __metatable = false,
  })
  return env
end

-- Whether `name` is a global the sandbox gives (for tests and messages).
function M.has(env, name)
  return (pcall(function() return env[name] end))
end

return M
