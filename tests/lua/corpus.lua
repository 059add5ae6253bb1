-- corpus.lua - how many real APIM policy documents load with engine.load, and why
-- the others do not. Used by corpus_spec.lua; also a script:
--   lua5.4 tests/lua/corpus.lua [dir]     (from the repository root; -v lists every file)
--
-- Each document is loaded alone as an API-scope policy, with a stub for every
-- {{named value}} it mentions, a stub backend for every literal backend-id and
-- an empty fragment for every fragment-id. Failures are counted per document
-- (by its first error that is not a planned policy) and per distinct reason.

local root = (debug.getinfo(1, "S").source:match("^@(.*)/tests/lua/[^/]*$")) or "."
package.path = root .. "/lua/?.lua;" .. root .. "/policies/?.lua;" .. package.path

local M = {}

M.DEFAULT_DIR = os.getenv("PORTICO_POLICY_CORPUS")
  or (root .. "/../shared/corpus/apim-policy-snippets/examples")

local function read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local t = f:read("a")
  f:close()
  return t
end

function M.files(dir)
  local out = {}
  local p = io.popen('find "' .. dir .. '" -maxdepth 1 -type f -name "*.xml" 2>/dev/null | LC_ALL=C sort')
  for line in p:lines() do out[#out + 1] = line end
  p:close()
  return out
end

-- A stub that fits what the name suggests: a URL, a number, or plain text.
local function stub_value(name)
  local l = name:lower()
  if l:find("url") or l:find("uri") or l:find("endpoint") or l:find("server") then
    return "https://stub.example/" .. l
  end
  if l:find("timeout") or l:find("duration") or l:find("ttl") or l:find("seconds") then return "10" end
  return "stub-" .. l
end

local function spec_for(text, file)
  local named, backends, fragments = {}, {}, {}
  for name in text:gmatch("{{([%w%._%-]+)}}") do named[name] = { value = stub_value(name) } end
  -- after an operator (`<= {{weight}}`) the value is C# code: a number fits
  -- (but `>{{x}}<` right after a tag is element text, not code)
  for before, op, sp, name in text:gmatch("(.)([%(=<>%+%-%*/,!&|%?:])(%s*){{([%w%._%-]+)}}") do
    if not (op == ">" and sp == "" and before ~= "=" and before ~= ">") then named[name].value = "1" end
  end
  for id in text:gmatch('backend%-id="([^"@{}]+)"') do backends[id] = { url = "http://127.0.0.1:9/" } end
  for id in text:gmatch('fragment%-id="([^"@]+)"') do fragments[id] = { file = id .. ".xml", text = "<fragment/>" } end
  return {
    gateway = { id = "corpus", region = "edge" },
    documents = { apis = { api = { file = file, text = text } }, products = {}, operations = {} },
    fragments = fragments, named_values = named, policy_paths = {},
    apis = { api = { name = "API", path = "api", service_url = "http://127.0.0.1:9/",
      operations = { op = { method = "GET", url_template = "/x/{id}", name = "op" } } } },
    backends = backends, products = {},
  }
end

-- A short reason for an error line: the message without location and specifics.
local function reason_of(e)
  local msg = e:gsub("^.-:%d+:%d+: ", "")
  local name = msg:match("^policy ([%w%-%._]+) is not supported")
  if name then return "policy " .. name .. " is not supported", name end
  msg = msg:gsub("'[^']*'", "'…'"):gsub("%b<>", "<…>")
  return msg
end

function M.measure(dir)
  local compiler = require "portico.compiler"
  local engine = require "portico.engine"
  local r = { total = 0, loaded = 0, planned_only = 0, failed = 0, files = {}, reasons = {},
    planned = {}, first = {} }
  for _, path in ipairs(M.files(dir)) do
    local text = read(path)
    local file = path:match("[^/]+$")
    r.total = r.total + 1
    local errs = engine.load(spec_for(text, file))
    local entry = { file = file, errors = errs or {} }
    r.files[#r.files + 1] = entry
    if not errs then
      r.loaded = r.loaded + 1
      entry.status = "loaded"
    else
      local other
      for _, e in ipairs(errs) do
        local why, el = reason_of(e)
        if el and compiler.PLANNED[el] then
          r.planned[el] = (r.planned[el] or 0) + 1
        else
          r.reasons[why] = (r.reasons[why] or 0) + 1
          other = other or why
        end
      end
      if other then
        r.failed = r.failed + 1
        entry.status = "failed"
        r.first[other] = (r.first[other] or 0) + 1
      else
        r.planned_only = r.planned_only + 1
        entry.status = "planned"
      end
    end
  end
  return r
end

local function top(t, n)
  local list = {}
  for k, v in pairs(t) do list[#list + 1] = { k, v } end
  table.sort(list, function(a, b) if a[2] ~= b[2] then return a[2] > b[2] end return a[1] < b[1] end)
  local out = {}
  for i = 1, math.min(n, #list) do out[i] = list[i] end
  return out
end

function M.report(r, verbose)
  local out = {}
  local function p(...) out[#out + 1] = string.format(...) end
  p("policy corpus: %d documents: %d load, %d fail only on planned (next-issue) policies, %d fail otherwise",
    r.total, r.loaded, r.planned_only, r.failed)
  p("planned policies met (documents x occurrences):")
  for _, kv in ipairs(top(r.planned, 40)) do p("  %4d  %s", kv[2], kv[1]) end
  p("other reasons, first per failing document:")
  for _, kv in ipairs(top(r.first, 20)) do p("  %4d  %s", kv[2], kv[1]) end
  p("other reasons, all errors:")
  for _, kv in ipairs(top(r.reasons, 25)) do p("  %4d  %s", kv[2], kv[1]) end
  if verbose then
    for _, f in ipairs(r.files) do
      p("%-8s %s", f.status, f.file)
      for _, e in ipairs(f.errors) do p("           %s", e) end
    end
  end
  return table.concat(out, "\n")
end

if not pcall(debug.getlocal, 4, 1) then
  local dir, verbose = M.DEFAULT_DIR, false
  for _, a in ipairs(arg or {}) do
    if a == "-v" then verbose = true else dir = a end
  end
  print(M.report(M.measure(dir), verbose))
end

return M
