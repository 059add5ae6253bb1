-- A whole operation policy in Lua: each section is function(context, base);
-- base(context) runs the API scope's section, as <base/> would.
return {
  inbound = function(context, base)
    base(context)
    local name = context.request.matched.name or "stranger"
    if name == "teapot" then
      return policy.respond(context, 418, { ["Content-Type"] = "text/plain" }, "I'm a teapot\n")
    end
    context.request.headers:set("X-Greeting", "hello " .. name)
  end,
  outbound = function(context, base)
    base(context)
    context.response.headers:set("X-Backend-Status", tostring(context.Response.StatusCode))
  end,
}
