-- A reload that adds a listener another process holds is refused as a whole
-- (file:line:col in the answer and /status), and the running generation keeps
-- serving on its own listener; a free address is added without a restart.
local dir = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
package.path = dir .. "/?.lua;" .. package.path
local h = require "helpers"

local TOKEN = "reload-listeners-token-23"

describe("23 reload and listeners", function()
  local be, gw, admin, port, yaml

  local function config(extra_listen)
    local listen = '"127.0.0.1:' .. port .. '"' .. (extra_listen and (', "127.0.0.1:' .. extra_listen .. '"') or "")
    return ([[
namedValues:
  admin-token: { value: "%s", secret: true }
gateway:
  id: edge-23
  listen: [%s]
  workers: 2
  accessLog: off
  admin: { listen: "127.0.0.1:%d", token: "{{admin-token}}" }
apis:
  echo: { path: echo, serviceUrl: "%s/v1" }
]]):format(TOKEN, listen, admin, be.url)
  end

  setup(function()
    be = h.start_backend { name = "main" }
    port, admin = h.free_port(), h.free_port()
    yaml = config(nil)
    gw = h.start_gateway(yaml)
  end)

  teardown(function()
    if gw then gw.stop() end
    h.cleanup()
  end)

  it("refuses a reload whose new listener is taken, and keeps serving", function()
    h.write_file(gw.config_path, config(be.port)) -- the backend holds that port
    local r, body = h.admin_request(admin, "POST", "/reload", "Bearer " .. TOKEN)
    assert.are.equal(422, r.status)
    local errors = table.concat(body.lastReload.errors, "\n")
    assert.is_truthy(errors:find(":5:%d+: gateway.listen: cannot listen on 127.0.0.1:" .. be.port), errors)
    assert.is_truthy(errors:find("address already in use", 1, true), errors)
    local ok = h.fetch(port, { path = "/echo/a" })
    assert.are.equal(200, ok.status)
  end)

  it("adds a free listener on reload, without a restart", function()
    local extra = h.free_port()
    h.write_file(gw.config_path, config(extra))
    local r = h.admin_request(admin, "POST", "/reload", "Bearer " .. TOKEN)
    assert.are.equal(200, r.status)
    assert.is_true(h.wait_for(function() return h.port_open(extra) end, 3, 0.05), "the new listener does not accept")
    assert.are.equal(200, h.fetch(extra, { path = "/echo/b" }).status)
    assert.are.equal(200, h.fetch(port, { path = "/echo/c" }).status)
  end)

  it("exits 0 on SIGTERM", function()
    gw.stop()
    gw = nil
  end)
end)
