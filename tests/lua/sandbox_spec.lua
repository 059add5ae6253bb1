-- busted spec of lua/portico/sandbox.lua and of the limits policy code runs under.

package.path = "tests/lua/?.lua;" .. package.path
local h = require "helper"
local sandbox = require "portico.sandbox"

describe("sandbox", function()
  local env = sandbox.env({ policy = {} })

  it("leaves out io, os, require, load, debug, collectgarbage, coroutine, print", function()
    for _, name in ipairs({ "io", "os", "require", "load", "loadfile", "dofile", "debug",
      "collectgarbage", "coroutine", "print", "rawset" }) do
      assert.is_false(sandbox.has(env, name), name)
    end
    assert.is_true(sandbox.has(env, "string"))
    assert.is_true(sandbox.has(env, "policy"))
  end)

  it("errors on unknown globals and on assignments", function()
    local f = load("return undefined_thing", "=t", "t", env)
    assert.has_error(f, nil)
    local ok, err = pcall(load("x = 1", "=t", "t", env))
    assert.is_false(ok)
    assert.matches("assignment to global 'x'", err)
  end)

  it("keeps the shared libraries read-only", function()
    local ok, err = pcall(load("string.upper = nil", "=t", "t", env))
    assert.is_false(ok)
    assert.matches("string.upper is read%-only", err)
    assert.is_nil(load("return string.dump", "=t", "t", env)())
    assert.is_nil(load("return getmetatable('')", "=t", "t", env)())
    assert.equal("ABC", load("return string.upper('abc')", "=t", "t", env)())
    assert.equal("abc", ("abc"):lower())
  end)

  it("stops a runaway expression with the request's error, not the gateway's", function()
    local spec = h.spec({ api = h.doc { inbound = '<set-variable name="x" value="@{ var i = 0; while (true) { i++; } return i; }"/>' } })
    h.load(spec)
    local co = coroutine.create(h.engine.run)
    -- what C's instruction hook does (src/lbridge.c)
    local budget = 100
    debug.sethook(co, function()
      budget = budget - 1
      if budget < 0 then error("instruction budget exceeded") end
    end, "", 1000)
    local ok, resp = coroutine.resume(co, h.req())
    assert.is_true(ok)
    assert.equal(500, resp.status)
    assert.equal("ExpressionValueEvaluationFailure", resp.error.reason)
    assert.matches("instruction budget exceeded", resp.error.message)
  end)
end)
