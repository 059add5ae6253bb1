-- expr_spec.lua - C# policy expressions translated to Lua (lua/portico/expr.lua) and run
-- against a small hand-made context that follows csharp.lua's object model; golden
-- translations in tests/lua/expr/; the APIM snippet corpus when ../shared is there.
package.path = "lua/?.lua;" .. package.path

local expr = require "portico.expr"
local rt = require "portico.csharp"

-- a JWT with sub=alice, aud=[api1, api2], exp=1700000000, scp="read write"
local function b64url(s) return (rt.base64_encode(s):gsub("+", "-"):gsub("/", "_"):gsub("=", "")) end
local JWT = b64url('{"alg":"RS256","typ":"JWT"}') .. "."
  .. b64url('{"sub":"alice","aud":["api1","api2"],"exp":1700000000,"scp":"read write","n":5}') .. ".c2ln"

-- dictionaries with string[] values (headers, query)
local function multi(list)
  local function find(k)
    for _, p in ipairs(list) do if p[1]:lower() == k:lower() then return p end end
  end
  return rt.dictionary(function(k)
    local p = find(k)
    return p and { table.unpack(p, 2) } or nil
  end, function()
    local ks = {}
    for i, p in ipairs(list) do ks[i] = p[1] end
    return ks
  end, function(k)
    local p = find(k)
    return p and table.concat(p, ",", 2) or nil
  end)
end

local function plain(t)
  return rt.dictionary(function(k) return t[k] end, function()
    local ks = {}
    for k in pairs(t) do ks[#ks + 1] = k end
    table.sort(ks)
    return ks
  end)
end

local function url(scheme, host, port, path, query)
  return {
    Scheme = scheme, Host = host, Port = port, Path = path,
    QueryString = query ~= "" and ("?" .. query) or "",
    Query = multi({ { "x", "1" }, { "list", "a", "b" } }),
    ToString = function() return scheme .. "://" .. host .. path .. (query ~= "" and ("?" .. query) or "") end,
  }
end

local function body(text)
  return { As = function(_, preserve) local _ = preserve; return text end }
end

local IResponse = { __name = "IResponse" }

local function make_context(vars)
  local variables = {
    greeting = "hello", count = 5, ratio = 0.5, flag = true,
    token = '{"access_token":"abc","expires_in":3600}',
    blobdata = setmetatable({ StatusCode = 403, Body = body('{"error":"denied"}'),
      Headers = multi({ { "Content-Type", "application/json" } }) }, IResponse),
  }
  for k, v in pairs(vars or {}) do variables[k] = v end
  return {
    Request = {
      Method = "POST",
      Url = url("https", "api.example.com", 443, "/orders/42", "x=1"),
      OriginalUrl = url("https", "gw.example.com", 8443, "/shop/orders/42", "x=1"),
      Headers = multi({ { "Authorization", "Bearer " .. JWT }, { "X-Forwarded-For", "10.1.2.3:5000" },
        { "Cookie", "a=1; oidc=xyz; b=2" }, { "Accept", "text/html", "application/json" } }),
      IpAddress = "192.0.2.7",
      MatchedParameters = plain({ id = "42", place = "Paris" }),
      Body = body('{"name":"widget","price":9.5,"tags":["a","b"],"nested":{"deep":[1,{"x":"y"}]}}'),
    },
    Response = { StatusCode = 200, StatusReason = "OK", Headers = multi({ { "Location", "/next" } }) },
    Variables = plain(variables),
    Api = { Id = "orders", Name = "Orders", Path = "/shop", ServiceUrl = url("http", "backend", 8080, "/v1", "") },
    Operation = { Id = "get-order", Method = "GET", Name = "Get order", UrlTemplate = "/orders/{id}" },
    Deployment = { ServiceName = "portico", Region = "West US", Gateway = { Id = "edge-1" } },
    Product = { Id = "starter", Name = "Starter" },
    LastError = { Source = "validate-jwt", Reason = "TokenExpired", Message = "expired" },
    RequestId = "0-17",
    Timestamp = rt.datetime(1700000000),
  }
end

-- a global read or write by generated code is a bug: the env fails loudly
local STRICT = setmetatable({}, {
  __index = function(_, k) error("generated code read global '" .. tostring(k) .. "'", 2) end,
  __newindex = function(_, k) error("generated code wrote global '" .. tostring(k) .. "'", 2) end,
})

local function run(kind, src, ctx)
  local fn, err = expr.compile(src, kind, "test.xml:1:1", STRICT)
  assert(fn, err)
  return fn(ctx or make_context(), rt)
end
local function ev(src, ctx) return run("expr", src, ctx) end
local function blk(src, ctx) return run("block", src, ctx) end

-- the C# exception raised by `fn`, as "ClassName: Message"
local function raises(kind, src)
  local fn, err = expr.compile(src, kind, "test.xml:1:1", STRICT)
  assert(fn, err)
  local ok, e = pcall(fn, make_context(), rt)
  assert.is_false(ok, "expected an exception from " .. src)
  return tostring(e)
end

local function terr(src, kind, where)
  local lua_src, err = expr.translate(src, kind or "expr", where or "f.xml:10:5")
  assert.is_nil(lua_src, "expected a translation error for " .. src)
  return err
end

before_each(function()
  rt.set_clock(function() return 1700000000.25 end) -- 2023-11-14T22:13:20.25Z
end)

describe("literals", function()
  it("numbers, strings, chars, bools, null", function()
    assert.are.equal(42, ev("42"))
    assert.are.equal("integer", math.type(ev("42")))
    assert.are.equal(1.5, ev("1.5"))
    assert.are.equal("float", math.type(ev("2d")))
    assert.are.equal(255, ev("0xFF"))
    assert.are.equal(1000000, ev("1_000_000"))
    assert.are.equal("a\tb\"c\\", ev([["a\tb\"c\\"]]))
    assert.are.equal("é", ev([["\u00e9"]]))
    assert.are.equal([[c:\temp\"x"]], ev([[@"c:\temp\""x"""]]))
    assert.are.equal("x", ev("'x'"))
    assert.are.equal("'", ev([['\'']]))
    assert.is_true(ev("true"))
    assert.is_nil(ev("null"))
  end)

  it("interpolated strings with holes, formats, alignment and nesting", function()
    assert.are.equal("a2b005c", ev([[$"a{1+1}b{5:D3}c"]]))
    assert.are.equal("{x}", ev([[$"{{x}}"]]))
    assert.are.equal("[   ab][ab   ]", ev([[$"[{"ab",5}][{"ab",-5}]"]]))
    assert.are.equal("hello/42", ev([[$"{context.Variables["greeting"]}/{context.Request.MatchedParameters["id"]}"]]))
    assert.are.equal("https://h:8443/cb", blk([[var port = 8443;
      return $"https://h{(port != 443 ? $":{port}" : "")}/cb";]]))
    assert.are.equal("https://h/cb", blk([[var port = 443;
      return $"https://h{(port != 443 ? $":{port}" : "")}/cb";]]))
    assert.are.equal([[C:\x\5]], ev([[$@"C:\x\{5}"]]))
    assert.are.equal("True|", ev([[$"{true}|{null}"]]))
  end)
end)

describe("operators", function()
  it("integer division truncates, doubles divide", function()
    assert.are.equal(3, ev("7 / 2"))
    assert.are.equal(-3, ev("-7 / 2"))
    assert.are.equal(3.5, ev("7.0 / 2"))
    assert.are.equal(2, ev([[(int)context.Variables["count"] / 2]]))
    assert.are.equal(2, ev([[context.Variables.GetValueOrDefault<int>("count") / 2]]))
    assert.are.equal(1, ev("7 % 3"))
    assert.are.equal(-1, ev("-7 % 3"))
    assert.are.equal(7, ev("1 + 2 * 3"))
    assert.are.equal(9, ev("(1 + 2) * 3"))
    assert.are.equal(2, ev("10 - 4 - 4"))
    assert.are.equal(5, ev("-(-5)"))
    assert.matches("DivideByZeroException", raises("expr", "1 / (2 - 2)"))
  end)

  it("string concatenation follows C#", function()
    assert.are.equal("a1", ev([["a" + 1]]))
    assert.are.equal("3a", ev([[1 + 2 + "a"]]))
    assert.are.equal("a12", ev([["a" + 1 + 2]]))
    assert.are.equal("a", ev([["a" + null]]))
    assert.are.equal("xTrue", ev([["x" + true]]))
    assert.are.equal("v1.5", ev([["v" + 1.5]]))
    assert.are.equal("hello!", ev([[context.Variables["greeting"] + "!"]]))
    assert.are.equal("api.example.com:443", ev([[context.Request.Url.Host + ":" + context.Request.Url.Port]]))
    assert.are.equal("ab", blk([[string s = null; s += "a"; s = s + "b"; return s;]]))
  end)

  it("comparison, equality and logic", function()
    assert.is_true(ev([["abc" == "ab" + "c"]]))
    assert.is_true(ev("null == null"))
    assert.is_true(ev([[context.Request.Method != "GET" && context.Request.Method != "HEAD"]]))
    assert.is_true(ev([[context.Response.StatusCode == 401 || context.Response.StatusCode == 200]]))
    assert.is_true(ev([[!context.Variables.ContainsKey("nope")]]))
    assert.is_true(ev("1 == 1.0"))
    assert.is_true(ev("2 < 3 && 3 >= 3"))
    assert.is_true(ev([[context.Response != null && (context.Response.StatusCode == 200)]]))
  end)

  it("ternary, ?? and ?.", function()
    assert.is_nil(ev([[true ? null : "x"]]))
    assert.are.equal("x", ev([[false ? null : "x"]]))
    assert.is_false(ev([[true ? false : true]]))
    assert.are.equal("d", ev([[null ?? "d"]]))
    assert.is_false(ev([[(bool?)false ?? true]]))
    assert.are.equal("hello", ev([[context.Variables.GetValueOrDefault<string>("greeting") ?? "none"]]))
    assert.are.equal(5, ev([[context.Variables.GetValueOrDefault<string>("greeting")?.Length]]))
    assert.is_nil(ev([[context.Variables.GetValueOrDefault<string>("missing")?.Length]]))
    assert.is_nil(ev([[context.Variables.GetValueOrDefault<string>("missing")?.Trim().ToUpper()]]))
    assert.are.equal(0, ev([[context.Variables.GetValueOrDefault<string>("missing")?.Length ?? 0]]))
    assert.are.equal("Starter", ev([[context.Product?.Name]]))
    -- the right side of ?? is evaluated only when needed
    assert.are.equal("hello", ev([[context.Variables.GetValueOrDefault<string>("greeting") ?? int.Parse("x").ToString()]]))
  end)

  it("bitwise operators and shifts", function()
    assert.are.equal(6, ev("7 & 14"))
    assert.are.equal(15, ev("7 | 8"))
    assert.are.equal(-16777216, ev("-1 << 24"))
    assert.are.equal(-1, ev("-1 << 32"))
    assert.are.equal(-2, ev("-8 >> 2"))
    assert.are.equal(0xAB, ev("(byte)(0x12AB)"))
    assert.is_true(ev("true & true"))
  end)
end)

describe("casts, is and as", function()
  it("converts and checks", function()
    assert.are.equal("hello", ev([[(string)context.Variables["greeting"] ]]))
    assert.are.equal(5, ev([[(int)context.Variables["count"] ]]))
    assert.are.equal(3, ev("(int)3.9"))
    assert.are.equal(-3, ev("(int)-3.9"))
    assert.are.equal(3600, ev([[(int)JObject.Parse((string)context.Variables["token"])["expires_in"] ]]))
    assert.are.equal("3600", ev([[(string)JObject.Parse((string)context.Variables["token"])["expires_in"] ]]))
    assert.are.equal(403, ev([[((IResponse)context.Variables["blobdata"]).StatusCode]]))
    assert.is_true(ev([[context.Variables["greeting"] is string]]))
    assert.is_false(ev([[context.Variables["count"] is string]]))
    assert.is_true(ev([[context.Variables["blobdata"] is IResponse]]))
    assert.is_nil(ev([[context.Variables["count"] as string]]))
    assert.are.equal("hello", ev([[context.Variables["greeting"] as string]]))
    assert.are.equal(5, blk([[if (context.Variables["greeting"] is string s) { return s.Length; } return -1;]]))
    assert.is_true(ev([[context.Variables.GetValueOrDefault("missing") is null]]))
    assert.matches("InvalidCastException", raises("expr", [[(JObject)context.Variables["greeting"] ]]))
  end)
end)

describe("strings", function()
  it("0-based indexes, -1 when absent", function()
    assert.are.equal("bc", ev([["abc".Substring(1, 2)]]))
    assert.are.equal("c", ev([["abc".Substring(2)]]))
    assert.are.equal("", ev([["abc".Substring(3)]]))
    assert.matches("ArgumentOutOfRangeException", raises("expr", [["abc".Substring(4)]]))
    assert.matches("ArgumentOutOfRangeException", raises("expr", [["abc".Substring(1, 3)]]))
    assert.are.equal(-1, ev([["abc".IndexOf("z")]]))
    assert.are.equal(1, ev([["abcb".IndexOf("b")]]))
    assert.are.equal(3, ev([["abcb".LastIndexOf("b")]]))
    assert.are.equal(1, ev([["abcb".IndexOf('b')]]))
    assert.are.equal(3, ev([["abcb".IndexOf("b", 2)]]))
    assert.are.equal(0, ev([["abc".IndexOf("")]]))
    assert.are.equal(1, ev([["aBc".IndexOf("b", StringComparison.OrdinalIgnoreCase)]]))
    assert.are.equal("b", ev([["abc"[1] ]]))
    assert.are.equal(5, ev([["héllo".Length]]))
    assert.are.equal("éll", ev([["héllo".Substring(1, 3)]]))
    assert.are.equal(2, ev([["héllo".IndexOf("l")]]))
  end)

  it("methods", function()
    assert.is_true(ev([[context.Request.Url.Host.Contains("example")]]))
    assert.is_true(ev([["Bearer x".StartsWith("bearer", StringComparison.OrdinalIgnoreCase)]]))
    assert.is_false(ev([["Bearer x".StartsWith("bearer")]]))
    assert.is_true(ev([["file.json".EndsWith(".json")]]))
    assert.are.equal("a-b-c", ev([["a.b.c".Replace(".", "-")]]))
    assert.are.equal("a.b.c", ev([["a.b.c".Replace("x", "-")]]))
    assert.are.equal("x", ev([["  x \t".Trim()]]))
    assert.are.equal("x--", ev([["--x--".TrimStart('-')]]))
    assert.are.equal("--x", ev([["--x--".TrimEnd('-')]]))
    assert.are.equal("ABC", ev([["abc".ToUpper()]]))
    assert.are.equal("abc", ev([["ABC".ToLowerInvariant()]]))
    assert.are.equal("007", ev([["7".PadLeft(3, '0')]]))
    assert.are.equal("7  ", ev([["7".PadRight(3)]]))
    assert.is_true(ev([["West US".Equals("west us", StringComparison.OrdinalIgnoreCase)]]))
    assert.is_true(ev([["West US".Equals(context.Deployment.Region, StringComparison.OrdinalIgnoreCase)]]))
    assert.are.equal("axc", ev([["abc".Remove(1, 1).Insert(1, "x")]]))
    assert.are.equal(3, ev([["abc".ToCharArray().Length]]))
  end)

  it("Split", function()
    assert.are.equal(3, ev([["a,b,c".Split(',').Length]]))
    assert.are.equal("b", ev([["a,b,c".Split(',')[1] ]]))
    assert.are.equal(4, ev([["a,,b,".Split(',').Length]]))
    assert.are.equal(2, ev([["a,,b,".Split(',', StringSplitOptions.RemoveEmptyEntries).Length]]))
    assert.are.equal(3, ev([["a;b,c".Split(';', ',').Length]]))
    assert.are.equal(3, ev([["a--b--c".Split(new string[] { "--" }, StringSplitOptions.None).Length]]))
    assert.are.equal("b=c", ev([["a=b=c".Split('=', 2)[1] ]]))
    assert.are.equal(2, ev([["10.1.2.3:5000".Split(':').Length]]))
  end)

  it("statics", function()
    assert.is_true(ev([[string.IsNullOrEmpty(null)]]))
    assert.is_true(ev([[string.IsNullOrEmpty("")]]))
    assert.is_false(ev([[String.IsNullOrEmpty("x")]]))
    assert.is_true(ev([[string.IsNullOrWhiteSpace(" \t")]]))
    assert.are.equal("", ev("String.Empty"))
    assert.are.equal("a 05|    r|{x}", ev([[string.Format("{0} {1:D2}|{2,5}|{{x}}", "a", 5, "r")]]))
    assert.are.equal("/table/acct/res", ev([[string.Format("/table/{0}/{1}", "acct", "res")]]))
    assert.are.equal("a,b,c", ev([[string.Join(",", "a,b,c".Split(','))]]))
    assert.are.equal("a-1-True", ev([[string.Join("-", "a", 1, true)]]))
    assert.are.equal("Bearer hello", ev([[String.Concat("Bearer ", (string)context.Variables["greeting"])]]))
    assert.matches("FormatException", raises("expr", [[string.Format("{1}", "a")]]))
  end)
end)

describe("numbers and conversions", function()
  it("parse, format, Convert, Math", function()
    assert.are.equal(43, ev([[int.Parse("42") + 1]]))
    assert.are.equal(-42, ev([[int.Parse(" -42 ")]]))
    assert.matches("FormatException", raises("expr", [[int.Parse("4x")]]))
    assert.matches("OverflowException", raises("expr", [[int.Parse("99999999999")]]))
    assert.are.equal(99999999999, ev([[long.Parse("99999999999")]]))
    assert.are.equal(2.5, ev([[double.Parse("2.5")]]))
    assert.is_true(ev([[bool.Parse("True")]]))
    assert.are.equal(24, blk([[if (int.TryParse("12", out var v)) { return v * 2; } return -1;]]))
    assert.are.equal(-1, blk([[if (int.TryParse("x12", out var v)) { return v * 2; } return -1;]]))
    assert.are.equal(7, blk([[int n; var ok = int.TryParse("7", out n); return ok ? n : 0;]]))
    assert.are.equal(0, blk([[int.TryParse("bad", out int n); return n;]]))
    assert.are.equal("005", ev([[5.ToString("D3")]]))
    assert.are.equal("1,234.50", ev([[1234.5.ToString("N2")]]))
    assert.are.equal("ff", ev([[255.ToString("x")]]))
    assert.are.equal("0.10", ev([[0.1.ToString("F2")]]))
    assert.are.equal("200", ev([[context.Response.StatusCode.ToString()]]))
    assert.are.equal(42, ev([[Convert.ToInt32("42")]]))
    assert.are.equal(2, ev([[Convert.ToInt32(2.5)]]))
    assert.are.equal(4, ev([[Convert.ToInt32(3.5)]]))
    assert.are.equal("17", ev([[Convert.ToString(17)]]))
    assert.are.equal(7, ev([[Math.Max(3, 7)]]))
    assert.are.equal(3, ev([[Math.Min(3, 7)]]))
    assert.are.equal(4, ev([[Math.Abs(-4)]]))
    assert.are.equal(2.0, ev([[Math.Round(2.5)]]))
    assert.are.equal(3.0, ev([[Math.Round(2.5, MidpointRounding.AwayFromZero)]]))
    assert.are.equal(2147483647, ev("int.MaxValue"))
  end)

  it("bytes, base64 and encodings", function()
    assert.are.equal("aGVsbG8=", ev([[Convert.ToBase64String(Encoding.UTF8.GetBytes("hello"))]]))
    assert.are.equal("hello", ev([[Encoding.UTF8.GetString(Convert.FromBase64String("aGVsbG8="))]]))
    assert.are.equal(6, ev([[System.Text.Encoding.UTF8.GetBytes("héllo").Length]]))
    assert.are.equal(123, ev([[context.Request.Body.As<byte[]>()[0] ]]))
    assert.are.equal(104, ev([[Encoding.UTF8.GetBytes("hello")[0] ]]))
    assert.are.equal("Basic dXNlcjpwYXNz", blk([[var id = "user"; var secret = "pass";
      return "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{id}:{secret}"));]]))
    assert.matches("FormatException", raises("expr", [[Convert.FromBase64String("***")]]))
  end)

  it("URL encodings", function()
    assert.are.equal("a%20b%26c%2F%C3%A9", ev([[Uri.EscapeDataString("a b&c/é")]]))
    assert.are.equal("a b&c", ev([[Uri.UnescapeDataString("a%20b%26c")]]))
    assert.are.equal("a+b%26c", ev([[System.Net.WebUtility.UrlEncode("a b&c")]]))
    assert.are.equal("&lt;b&gt;", ev([[System.Net.WebUtility.HtmlEncode("<b>")]]))
    assert.are.equal("/oauth", ev([[new Uri("https://h.example/oauth?x=1").AbsolutePath]]))
    assert.is_true(ev([[new Uri("https://h/oauth/x").AbsolutePath.StartsWith("/oauth", StringComparison.InvariantCultureIgnoreCase)]]))
  end)

  it("Guid and Random", function()
    assert.matches("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$",
      ev("Guid.NewGuid().ToString()"))
    assert.are.equal(32, ev([[Guid.NewGuid().ToString("N").Length]]))
    local g = "00112233-4455-6677-8899-aabbccddeeff"
    assert.are.equal(g, ev([[new Guid(Guid.Parse("]] .. g .. [[").ToByteArray()).ToString()]]))
    assert.are.equal(51, ev([[Guid.Parse("]] .. g .. [[").ToByteArray()[0] ]]))
    local n = ev("new Random().Next(1, 3)")
    assert.is_true(n == 1 or n == 2)
    n = ev([[new Random(context.RequestId.GetHashCode()).Next(0, 100)]])
    assert.is_true(n >= 0 and n < 100)
  end)
end)

describe("dates", function()
  it("DateTime.UtcNow, formats, arithmetic", function()
    assert.are.equal("2023-11-14T22:13:20.2500000Z", ev([[DateTime.UtcNow.ToString("o")]]))
    assert.are.equal("2023-11-14", ev([[DateTime.UtcNow.ToString("yyyy-MM-dd")]]))
    assert.are.equal("2023-11-15T22:13:20Z", ev([[DateTime.UtcNow.AddDays(1).ToString("yyyy-MM-ddTHH:mm:ssZ")]]))
    assert.are.equal("Tue, 14 Nov 2023 22:13:20 GMT", ev([[DateTime.UtcNow.ToString("R")]]))
    assert.are.equal("2023-11-14T22:14:20", ev([[DateTime.UtcNow.AddSeconds(60).ToString("s")]]))
    assert.are.equal("2023-11-14 22:13:20Z", ev([[DateTime.UtcNow.ToString("u")]]))
    assert.are.equal(638355968002500000, ev("DateTime.UtcNow.Ticks"))
    assert.are.equal(1700000000, ev("DateTimeOffset.UtcNow.ToUnixTimeSeconds()"))
    assert.are.equal(1700000030250, ev("DateTimeOffset.UtcNow.AddSeconds(30).ToUnixTimeMilliseconds()"))
    assert.are.equal("Tue, 14 Nov 2023 22:13:20 GMT", ev("DateTimeOffset.FromUnixTimeMilliseconds(1700000000000).ToString(\"R\")"))
    assert.is_true(ev("DateTimeOffset.UtcNow > DateTimeOffset.FromUnixTimeSeconds(1600000000)"))
    assert.are.equal(1700003600, blk([[TimeSpan sinceEpoch = DateTime.UtcNow - new DateTime(1970, 1, 1);
      return (int)sinceEpoch.TotalSeconds + 3600;]]))
    assert.are.equal("2023-11-14", ev([[context.Timestamp.ToString("yyyy-MM-dd")]]))
    assert.are.equal(2024, ev([[DateTime.Parse("2024-02-29T10:00:00Z").Year]]))
    assert.are.equal("00:01:30", ev("TimeSpan.FromSeconds(90).ToString()"))
    assert.are.equal("2024-01-02T03:04:00.0000000", ev([[DateTime.ParseExact("20240102 0304", "yyyyMMdd HHmm", CultureInfo.InvariantCulture).ToString("o")]]))
    assert.are.equal("2024-01-02T03:04:05.1230000Z", ev([[DateTime.ParseExact("2024-01-02T03:04:05.123Z", "yyyy-MM-ddTHH:mm:ss.fffK", null).ToString("o")]]))
  end)
end)

describe("JSON", function()
  it("parses, indexes and converts", function()
    assert.are.equal("widget", ev([[(string)context.Request.Body.As<JObject>()["name"] ]]))
    assert.are.equal("widget", ev([[context.Request.Body.As<JObject>(preserveContent: true).Value<string>("name")]]))
    assert.are.equal(9.5, ev([[(double)context.Request.Body.As<JObject>()["price"] ]]))
    assert.are.equal("b", ev([[(string)context.Request.Body.As<JObject>()["tags"][1] ]]))
    assert.are.equal("y", ev([[context.Request.Body.As<JObject>().SelectToken("nested.deep[1].x").ToString()]]))
    assert.is_nil(ev([[context.Request.Body.As<JObject>().SelectToken("nested.nope")]]))
    assert.is_nil(ev([[context.Request.Body.As<JObject>()["missing"] ]]))
    assert.are.equal(2, ev([[context.Request.Body.As<JObject>()["tags"].Count()]]))
    assert.are.equal("abc", ev([[(string)((JObject)JObject.Parse((string)context.Variables["token"]))["access_token"] ]]))
    assert.are.equal('{"error":"denied"}',
      ev([[((IResponse)context.Variables["blobdata"]).Body.As<JObject>().ToString(Newtonsoft.Json.Formatting.None)]]))
    assert.matches("JsonReaderException", raises("expr", [[JObject.Parse("[1,2]")]]))
    assert.matches("JsonReaderException", raises("expr", [[JObject.Parse("{\"a\":}")]]))
  end)

  it("builds and serialises, keeping key order", function()
    assert.are.equal('{"z":1,"a":"x","m":[1,"two",null,true],"o":{}}', ev([[new JObject(
      new JProperty("z", 1), new JProperty("a", "x"),
      new JProperty("m", new JArray(1, "two", null, true)), new JProperty("o", new JObject())
    ).ToString(Newtonsoft.Json.Formatting.None)]]))
    assert.are.equal('{\n  "status": "HTTP 405",\n  "message": "Method not allowed"\n}', blk([[
      return new JObject(
        new JProperty("status", "HTTP 405"),
        new JProperty("message", "Method not allowed")
      ).ToString();]]))
    assert.are.equal('{"b":2,"c":[1]}', blk([[var o = new JObject(); o["a"] = 1; o.Add("b", 2);
      o.Property("a").Remove(); var arr = new JArray(); arr.Add(1); o["c"] = arr;
      return o.ToString(Newtonsoft.Json.Formatting.None);]]))
    assert.are.equal('{"name":"widget","price":9.5,"tags":["a","b"],"nested":{"deep":[1,{"x":"y"}]}}',
      ev([[JsonConvert.SerializeObject(context.Request.Body.As<JObject>())]]))
    assert.are.equal('"a\\"b"', ev([[JsonConvert.SerializeObject("a\"b")]]))
    assert.are.equal("{\"validationResponse\":\"abc\"}", blk([[
      var e = JObject.Parse("{\"data\":{\"validationCode\":\"abc\"}}");
      var r = new JObject(new JProperty("validationResponse", e["data"]["validationCode"].ToString()));
      return r.ToString(Newtonsoft.Json.Formatting.None);]]))
    assert.are.equal("name,price", blk([[var o = JObject.Parse("{\"name\":1,\"price\":2}");
      var names = new List<string>();
      foreach (var p in o.Properties()) { names.Add(p.Name); }
      return string.Join(",", names);]]))
    assert.are.equal(3, ev([[JArray.Parse("[1,2,3]").Count]]))
    assert.are.equal("{\"aud\":\"x\",\"n\":\"1\"}", blk([[
      var claims = new Dictionary<string, string>() { { "aud", "x" }, { "n", 1.ToString() } };
      return JObject.FromObject(claims).ToString(Newtonsoft.Json.Formatting.None);]]))
  end)
end)

describe("the context", function()
  it("reads requests, headers, variables, parameters", function()
    assert.are.equal("POST", ev("context.Request.Method"))
    assert.are.equal("Bearer " .. JWT, ev([[context.Request.Headers.GetValueOrDefault("Authorization","")]]))
    assert.are.equal("none", ev([[context.Request.Headers.GetValueOrDefault("X-Missing","none")]]))
    assert.are.equal("text/html,application/json", ev([[context.Request.Headers.GetValueOrDefault("Accept")]]))
    assert.are.equal("application/json", ev([[context.Request.Headers["Accept"][1] ]]))
    assert.are.equal("/next", ev([[context.Response.Headers["location"][0] ]]))
    assert.is_true(ev([[context.Request.Headers.ContainsKey("cookie")]]))
    assert.are.equal("42", ev([[context.Request.MatchedParameters["id"] ]]))
    assert.are.equal("Paris", ev([[context.Request.MatchedParameters.GetValueOrDefault("place", "")]]))
    assert.are.equal("1", ev([[context.Request.Url.Query.GetValueOrDefault("x", "d")]]))
    assert.are.equal("?x=1", ev("context.Request.Url.QueryString"))
    assert.are.equal("https://api.example.com/orders/42?x=1", ev("context.Request.Url.ToString()"))
    assert.is_true(ev([[context.Variables.GetValueOrDefault<bool>("flag")]]))
    assert.is_false(ev([[context.Variables.GetValueOrDefault<bool>("nope")]]))
    assert.are.equal(0, ev([[context.Variables.GetValueOrDefault<int>("nope")]]))
    assert.are.equal(9, ev([[context.Variables.GetValueOrDefault<int>("nope", 9)]]))
    assert.are.equal("dflt", ev([[context.Variables.GetValueOrDefault("nope", "dflt")]]))
    assert.matches("KeyNotFoundException", raises("expr", [[context.Variables["nope"] ]]))
    assert.are.equal("validate-jwt", ev("context.LastError.Source"))
    assert.are.equal("proto=https;host=gw.example.com;", ev([["proto=" + context.Request.OriginalUrl.Scheme + ";host=" + context.Request.OriginalUrl.Host + ";"]]))
    assert.are.equal("backend:8080/v1", ev([[context.Api.ServiceUrl.Host +":"+ context.Api.ServiceUrl.Port + context.Api.ServiceUrl.Path]]))
    assert.matches("NullReferenceException", raises("expr", "context.User.Id"))
  end)

  it("reads JWTs", function()
    assert.are.equal("alice", ev([[context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject]]))
    assert.are.equal("SAPPrincipalalice", ev([["SAPPrincipal" + context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt()?.Subject]]))
    assert.is_nil(ev([["not a jwt".AsJwt()?.Subject]]))
    assert.are.equal("api2", ev([[context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt().Audiences[1] ]]))
    assert.are.equal("read write", ev([[context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt().Claims.GetValueOrDefault("scp", "")]]))
    assert.are.equal("api1,api2", ev([[context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt().Claims.GetValueOrDefault("aud", "")]]))
    assert.are.equal("missing", ev([[context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt().Claims.GetValueOrDefault("nonce", "missing")]]))
    assert.are.equal("2023-11-14T22:13:20.0000000Z", ev([[context.Request.Headers.GetValueOrDefault("Authorization","").AsJwt().ExpirationTime.Value.ToString("o")]]))
    assert.are.equal("alice", blk([[
      if (context.Request.Headers.GetValueOrDefault("Authorization","").TryParseJwt(out var jwt)) { return jwt.Subject; }
      return null;]]))
  end)
end)

describe("statements", function()
  it("declarations, if/else if/else", function()
    assert.are.equal("big", blk([[var n = (int)context.Variables["count"];
      string size;
      if (n > 10) size = "huge"; else if (n > 3) { size = "big"; } else { size = "small"; }
      return size;]]))
    assert.are.equal(3, blk([[int a = 1, b = 2; return a + b;]]))
    assert.are.equal(5, blk([[const int K = 5; return K;]]))
  end)

  it("loops with break and continue", function()
    assert.are.equal(16, blk([[var sum = 0;
      for (int i = 0; i < 10; i++) { if (i % 2 == 0) continue; if (i > 7) break; sum += i; }
      return sum;]]))
    assert.are.equal("ABC", blk([[var s = ""; foreach (var p in "a,b,c".Split(',')) { s += p.ToUpper(); } return s;]]))
    assert.are.equal(10, blk([[var i = 0; while (true) { i++; if (i < 10) continue; break; } return i;]]))
    assert.are.equal(3, blk([[var i = 0; do { i += 1; } while (i < 3); return i;]]))
    assert.are.equal("a=1;b=2;", blk([[var d = new Dictionary<string, int>(); d.Add("a", 1); d["b"] = 2;
      var s = ""; foreach (var kv in d) { s += kv.Key + "=" + kv.Value + ";"; } return s;]]))
    assert.are.equal(6, blk([[var total = 0;
      foreach (var row in new [] { new [] { 1, 2 }, new [] { 3 } }) { foreach (var x in row) { total += x; } }
      return total + row_bonus();
      int row_bonus() { return 0; }]]))
  end)

  it("switch", function()
    local src = [[switch (context.Request.Method) {
      case "GET": return 1;
      case "POST": case "PUT": return 2;
      default: return 3; }]]
    assert.are.equal(2, blk(src))
    assert.are.equal("two", blk([[var s = "x"; switch (2) { case 1: s = "one"; break; case 2: s = "two"; break; } return s;]]))
  end)

  it("try/catch/finally and throw", function()
    assert.are.equal("bad: The input string 'x' was not in a correct format.",
      blk([[try { return int.Parse("x"); } catch (FormatException e) { return "bad: " + e.Message; }]]))
    assert.are.equal("caught", blk([[try { var o = JObject.Parse("nope"); return "parsed"; } catch (Exception) { return "caught"; }]]))
    assert.are.equal("inner", blk([[try { try { throw new InvalidOperationException("x"); }
      catch (FormatException) { return "wrong"; } } catch (InvalidOperationException e) { return "inner"; }]]))
    assert.are.equal("ok-done", blk([[var s = "";
      try { s = "ok"; } finally { s += "-done"; } return s;]]))
    assert.are.equal(3, blk([[var n = 0;
      for (var i = 0; i < 10; i++) { try { if (i == 3) break; n++; } catch (Exception) { } }
      return n;]]))
    assert.matches("InvalidOperationException: boom", raises("block", [[throw new InvalidOperationException("boom");]]))
    assert.matches("FormatException", raises("block", [[try { int.Parse("x"); } catch (Exception) { throw; } return 1;]]))
    -- errors that are not exceptions (budget, context failures) are not caught
    local fn = assert(expr.compile([[try { return context.Request.Method; } catch (Exception) { return "caught"; }]], "block", "t:1:1", STRICT))
    local ctx = make_context()
    ctx.Request = setmetatable({}, { __index = function() error({ reason = "budget" }, 0) end })
    local ok, e = pcall(fn, ctx, rt)
    assert.is_false(ok)
    assert.are.equal("budget", e.reason)
  end)

  it("local functions and lambdas", function()
    assert.are.equal(120, blk([[int Fact(int n) { return n <= 1 ? 1 : n * Fact(n - 1); } return Fact(5);]]))
    assert.are.equal("xyz", ev([[context.Request.Headers.GetValueOrDefault("cookie", "").Split(';')
      .Select(x => x.Trim()).Select(cookie => cookie.Split('='))
      .SingleOrDefault(cookie => cookie[0] == "oidc")?[1] ?? string.Empty]]))
    assert.is_true(ev([[new [] {"post", "put"}.Contains(context.Request.Method, StringComparer.OrdinalIgnoreCase)]]))
    assert.are.equal("B", ev([["a,b,c".Split(',').Where(s => s != "a").Select(s => s.ToUpper()).First()]]))
    assert.is_nil(ev([["a,b".Split(',').FirstOrDefault(s => s == "z")]]))
    assert.is_true(blk([[var perms = new List<string> { "read", "sendEmail" };
      return Array.Exists(perms.ToArray(), element => element == "sendEmail");]]))
    assert.are.equal(6, ev([[new [] { 1, 2, 3 }.Sum()]]))
    assert.are.equal("c,b,a", ev([[string.Join(",", new [] { "b", "c", "a" }.OrderByDescending(x => x))]]))
    assert.are.equal(9, blk([[Func<int, int> sq = x => x * x; return sq(3);]]))
  end)

  it("hashes and AES", function()
    assert.are.equal("5B-DC-C1-46-BF-60-75-4E-6A-04-24-26-08-95-75-C7-5A-00-3F-08-9D-27-39-83-9D-EC-58-B9-64-EC-38-43", blk([[
      var h = new System.Security.Cryptography.HMACSHA256(Encoding.UTF8.GetBytes("Jefe"));
      return BitConverter.ToString(h.ComputeHash(Encoding.UTF8.GetBytes("what do ya want for nothing?")));]]))
    assert.are.equal("secret text", blk([[
      var key = Convert.FromBase64String("AAECAwQFBgcICQoLDA0ODw==");
      var iv = Guid.Parse("00112233-4455-6677-8899-aabbccddeeff").ToByteArray();
      var enc = Encoding.UTF8.GetBytes("secret text").Encrypt("Aes", key, iv);
      return Encoding.UTF8.GetString(enc.Decrypt("Aes", key, iv));]]))
  end)

  it("regular expressions", function()
    assert.are.equal(3600, blk([[
      var header = "public, max-age=3600";
      var maxAge = Regex.Match(header, @"max-age=(?<maxAge>\d+)").Groups["maxAge"]?.Value;
      return (!string.IsNullOrEmpty(maxAge))?int.Parse(maxAge):300;]]))
    assert.are.equal("05/01/2024", ev([[Regex.Replace("2024-01-05", @"(\d+)-(\d+)-(\d+)", "$3/$2/$1")]]))
    assert.is_true(ev([[Regex.IsMatch("HELLO", "^hel+o$", RegexOptions.IgnoreCase)]]))
    assert.are.equal(3, ev([[Regex.Matches("a1b22c333", @"\d+").Count]]))
  end)
end)

describe("translation errors", function()
  it("name the construct and its location", function()
    assert.are.equal("f.xml:10:5: unsupported C# construct 'yield return' (iterators are not supported)",
      terr("yield return 1;", "block"))
    assert.are.equal("f.xml:11:3: unsupported C# construct 'yield return' (iterators are not supported)",
      terr("var x = 1;\n  yield return x;", "block"))
    assert.are.equal("f.xml:10:28: unsupported C# construct 'new XmlDocument' (type not in Portico's C# subset)",
      terr("var x = 1; var d = new XmlDocument();", "block"))
    assert.are.equal("f.xml:10:5: unsupported C# construct 'System.Xml.XmlReader.Create' (type not in Portico's C# subset)",
      terr("System.Xml.XmlReader.Create(null)"))
    assert.are.equal("f.xml:10:29: unsupported C# construct '.Frobnicate(...)' (method not in Portico's C# subset)",
      terr("context.Request.Headers.Frobnicate()"))
    assert.are.equal("f.xml:10:5: unknown name 'foo' (not a local variable, a parameter, 'context' or a supported type)",
      terr("foo + 1"))
    assert.are.equal("f.xml:10:25: C# syntax error: expected ')' but found end of expression",
      terr("context.Foo.Bar(1, 2"))
    assert.matches("^f%.xml:10:5: unsupported C# construct 'typeof'", terr("typeof(string)"))
    assert.matches("^f%.xml:10:5: unsupported C# construct 'await'", terr("await x"))
    assert.matches("^f%.xml:10:21: C# error: 'MatchedParameters' is a property, not a method",
      terr([[context.Request.MatchedParameters("x")]]))
    assert.matches("'using'", terr("using (var r = x) { }", "block"))
    assert.matches("unterminated string literal", terr([["abc]]))
    assert.matches("C# error: Invalid pattern", terr([[Regex.IsMatch("x", "(a")]]))
    assert.matches("'context' would hide", terr("var context = 1; return 1;", "block"))
    assert.matches("increment and decrement are only supported as statements", terr("var a = new int[2]; var i = 0; return a[i++];", "block"))
    assert.matches("only assignment, call, increment", terr("1 + 2;", "block"))
    assert.matches("expression block must return a value", terr("return;", "block"))
    assert.matches("'As<XElement>'", terr("context.Request.Body.As<XElement>()"))
    assert.matches("'XmlNode' %(type not in", terr([[context.Variables.GetValueOrDefault<XmlNode>("x")]]))
    assert.matches("switch expressions are not supported", terr("context.Response.StatusCode switch { 200 => 1, _ => 0 }"))
    assert.matches("deconstruction is not supported", terr("var (a, b) = (1, 2); return a;", "block"))
    assert.matches("anonymous types", terr("new { a = 1 }"))
  end)

  it("work without a file:line:col", function()
    local _, err = expr.translate("a +", "expr", "inline")
    assert.are.equal("inline:1:4: C# syntax error: unexpected end of expression", err)
  end)
end)

describe("generated code", function()
  it("reads no globals and loads in an empty environment", function()
    local src = assert(expr.translate([[var s = 0; foreach (var x in new [] { 1, 2 }) { s += x; } return s;]], "block", "t:1:1"))
    local chunk = assert(load(src, "=t", "t", {}))
    assert.are.equal(3, chunk()(make_context(), rt))
  end)

  it("renames locals that are Lua keywords", function()
    assert.are.equal(3, blk([[var end = 1; var local = 2; return end + local;]]))
  end)
end)

-- golden vectors: tests/lua/expr/NAME.{expr,block}.cs -> NAME.{expr,block}.lua-expected
-- (PORTICO_UPDATE_GOLDEN=1 rewrites the expected files)
describe("golden translations", function()
  local dir = "tests/lua/expr"
  local list = io.popen('ls "' .. dir .. '" 2>/dev/null')
  local names = {}
  for f in list:lines() do
    if f:match("%.cs$") then names[#names + 1] = f end
  end
  list:close()
  it("has vectors", function() assert.is_true(#names > 0) end)
  for _, f in ipairs(names) do
    it(f, function()
      local kind = f:match("%.(%a+)%.cs$")
      local src = assert(io.open(dir .. "/" .. f)):read("a")
      local out, err = expr.translate(src, kind, f .. ":1:1")
      out = out or (err .. "\n")
      local expected_file = dir .. "/" .. f:gsub("%.cs$", ".lua-expected")
      if os.getenv("PORTICO_UPDATE_GOLDEN") then
        local h = assert(io.open(expected_file, "w"))
        h:write(out)
        h:close()
      end
      local h = io.open(expected_file)
      assert(h, "missing " .. expected_file)
      assert.are.equal(h:read("a"), out)
      h:close()
    end)
  end
end)

-- The APIM snippet corpus: every @( ) and @{ } (outside XML comments) is translated;
-- the numbers and the reasons for failure are printed. Skipped on a clean clone.
describe("APIM snippet corpus", function()
  local dir = "../shared/corpus/apim-policy-snippets/examples"
  local probe = io.open(dir .. "/Random load balancer.policy.xml")
  if not probe then
    pending("corpus not present (" .. dir .. ")")
    return
  end
  probe:close()

  -- a balanced scan honouring C# strings, verbatim and interpolated strings, chars, comments
  local skip
  local function str_end(s, i, verbatim, interp)
    while i <= #s do
      local c = s:sub(i, i)
      if c == '"' then
        if verbatim and s:sub(i + 1, i + 1) == '"' then i = i + 2 else return i + 1 end
      elseif c == "\\" and not verbatim then i = i + 2
      elseif interp and c == "{" then
        if s:sub(i + 1, i + 1) == "{" then i = i + 2 else
          i = skip(s, i + 1, "}")
          if not i then return nil end
        end
      else i = i + 1 end
    end
  end
  function skip(s, i, close)
    local depth = 0
    while i <= #s do
      local c, two = s:sub(i, i), s:sub(i, i + 1)
      if c == '"' then i = str_end(s, i + 1, false, false)
      elseif two == '@"' then i = str_end(s, i + 2, true, false)
      elseif two == '$"' then i = str_end(s, i + 2, false, true)
      elseif s:sub(i, i + 2) == '$@"' or s:sub(i, i + 2) == '@$"' then i = str_end(s, i + 3, true, true)
      elseif c == "'" then
        local j = s:find("'", i + (s:sub(i + 1, i + 1) == "\\" and 3 or 2), true)
        i = j and j + 1
      elseif two == "//" then i = (s:find("\n", i, true) or #s) + 1
      elseif two == "/*" then local _, e = s:find("*/", i + 2, true); i = e and e + 1
      elseif c == "(" or c == "{" or c == "[" then depth = depth + 1; i = i + 1
      elseif c == ")" or c == "}" or c == "]" then
        if depth == 0 then return c == close and i + 1 or nil end
        depth = depth - 1
        i = i + 1
      else i = i + 1 end
      if not i then return nil end
    end
  end
  local ENT = { quot = '"', lt = "<", gt = ">", amp = "&", apos = "'" }
  local function extract(s)
    local out, i = {}, 1
    while true do
      local a = s:find("[<@]", i)
      if not a then break end
      if s:sub(a, a + 3) == "<!--" then
        local _, b = s:find("-->", a + 4, true)
        i = b and b + 1 or #s + 1
      elseif s:sub(a, a) == "@" and s:sub(a + 1, a + 1):match("[({]") then
        local open = s:sub(a + 1, a + 1)
        local j = skip(s, a + 2, open == "(" and ")" or "}")
        local before = s:sub(1, a)
        local line = select(2, before:gsub("\n", "")) + 1
        local col = a - (before:match(".*()\n") or 0)
        if j then
          local text = s:sub(a + 2, j - 2):gsub("&(%a+);", ENT)
          out[#out + 1] = { text = text, kind = open == "(" and "expr" or "block", line = line, col = col + 2 }
          i = j
        else
          out[#out + 1] = { line = line, col = col }
          i = a + 2
        end
      else i = a + 1 end
    end
    return out
  end

  it("translates the snippets' expressions", function()
    local files = io.popen('find "' .. dir .. '" -name "*.xml" | sort')
    local total, ok, reasons = 0, 0, {}
    for path in files:lines() do
      local s = assert(io.open(path)):read("a")
      for _, e in ipairs(extract(s)) do
        total = total + 1
        local reason
        if not e.text then reason = "unbalanced @( ) or @{ } in the document"
        else
          -- {{named values}} are substituted before translation (APIM's order); stubs here
          local text = e.text:gsub("{{[^}]*}}", "1")
          local where = path:match("[^/]+$") .. ":" .. e.line .. ":" .. e.col
          local lua_src, err = expr.translate(text, e.kind, where)
          if lua_src then
            assert(load(lua_src, "=" .. where, "t", {}), "generated Lua does not load: " .. where)
            ok = ok + 1
          else
            reason = err:match("(unsupported C# construct '[^']*')") or err:match(":%d+:%d+: (.*)$")
            reason = reason:gsub("%s*%(.*$", ""):gsub("'[^']*' is a property", "'X' is a property")
          end
        end
        if reason then reasons[reason] = (reasons[reason] or 0) + 1 end
      end
    end
    files:close()
    local sorted = {}
    for r, n in pairs(reasons) do sorted[#sorted + 1] = { r, n } end
    table.sort(sorted, function(a, b) return a[2] > b[2] or (a[2] == b[2] and a[1] < b[1]) end)
    local lines = { ("corpus: %d of %d expressions translate"):format(ok, total) }
    for _, r in ipairs(sorted) do lines[#lines + 1] = ("  %3d  %s"):format(r[2], r[1]) end
    print("\n" .. table.concat(lines, "\n"))
    assert.is_true(total > 300)
    assert.is_true(ok / total > 0.9, lines[1])
  end)
end)
