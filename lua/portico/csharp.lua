-- csharp.lua - the run-time library of translated APIM policy expressions (`rt`).
--
-- Owns: the meaning of C# operations on Lua values (member access, calls, indexers,
-- operators, casts), the BCL subset (string, Convert, int/long/double/bool parsing,
-- Math, Guid, DateTime/DateTimeOffset/TimeSpan, Encoding, Uri, WebUtility,
-- StringBuilder, Random, List/arrays/Dictionary, LINQ, SHA-256/SHA-1/HMAC, JWT) and
-- Newtonsoft's JObject/JArray/JToken (with an order-keeping JSON reader/writer:
-- cjson loses key order, reads every number as a float and writes "/" as "\/").
--
-- Does not own: translation (expr.lua), the `context` objects (context.lua), which
-- follow the convention below.
--
-- This file documents the object model (below), assembles `rt` from the modules of
-- portico/csharp/ and lists the member names the translator accepts (rt.MEMBERS):
--   csharp/core.lua         classes, exceptions, type names, rt.str, strings as values,
--                           argument checks, enumerations, rt.equals, rt.new
--   csharp/collections.lua  arrays, List, byte[], Dictionary, iteration (rt.each), LINQ
--   csharp/numbers.lua      number parsing and formatting, string.Format holes, the
--                           members of numbers and bools, Int32/Double/Boolean/Math
--   csharp/strings.lua      the members of strings, String/Char statics, StringBuilder
--   csharp/encoding.lua     base64, Uri, WebUtility, Encoding
--   csharp/json.lua         JObject/JArray/JProperty/JToken, JSON reader and writer,
--                           rt.generic_result
--   csharp/time.lua         the clock, DateTime, DateTimeOffset, TimeSpan
--   csharp/random.lua       the random source, Random, Guid
--   csharp/crypto.lua       SHA-256, SHA-1, HMAC, AES-CBC
--   csharp/regex.lua        Regex, Match, Group
--   csharp/jwt.lua          AsJwt / TryParseJwt and the Jwt class
--   csharp/operators.lua    operators whose meaning depends on run-time types
--   csharp/casts.lua        casts, is, as, default(T), Convert
--   csharp/dispatch.lua     rt.get / rt.call / rt.index / rt.set / rt.init: the entry
--                           points of the generated code
-- Each module requires the ones it builds on and returns its internals to them; they
-- all fill the one `rt` table (core.rt), which only this module returns.
--
-- ============================ the object model ============================
-- Values:  C# string  = Lua string (UTF-8; indexes count characters, 0-based)
--          C# char    = Lua string of one character
--          int/long   = Lua integer (64-bit; int32 overflow does not wrap)
--          double     = Lua float;  bool = Lua boolean
--          null       = nil.  JSON null inside a JObject/JArray is stored as rt.JNULL
--                       and read back as nil.
--          byte[]     = rt.bytes(s) (a Byte[] object over a Lua string of bytes);
--                       functions that take bytes also accept a plain Lua string
--          arrays     = rt.array(t, n) (0-based for C#, stored 1..n in t)
--          objects    = tables (or userdata) with or without a metatable
-- Generated code calls:
--   rt.get(o, "Name")         o.Name       -> for a table: o.Name (plain field or __index)
--   rt.call(o, "M", a, b)     o.M(a, b)    -> for a table: o.M(o, a, b)
--   rt.call(o, "M<T>", a)     o.M<T>(a)    -> o["M<T>"](o, a) when present, else
--                                             o.M(o, a) converted to T (rt.generic_result)
--   rt.index(o, k)            o[k]         -> o:get_Item(k) when present; else o[k] for a
--                                             string k; a plain Lua array read 0-based
--   rt.nget / rt.ncall / rt.nindex         the same after ?. / ?[ (nil stays nil)
-- A context object therefore is a table whose PascalCase fields are APIM's
-- properties and whose PascalCase functions are APIM's methods (first parameter:
-- the object). Rules for implementers:
--   * properties holding C# null are nil; ints are Lua integers (StatusCode, Port)
--   * out parameters are not passed: a method returns its result followed by the out
--     values (TryGetValue(self, key) -> found, value)
--   * named arguments are placed by position (As<T>(preserveContent: true) arrives as
--     As<T>(self, true))
--   * string[] values (header values) are rt.array(t); dictionaries (Headers, Query,
--     Variables, MatchedParameters, Jwt claims) are rt.dictionary(get, keys, joined);
--     the request/response time is rt.datetime(unix_seconds), durations rt.timespan(s)
--   * set the metatable __name to APIM's type name (IResponse, IUrl, Jwt...): `is`,
--     `as` and error messages use it; an object may define ToString(self) and
--     GetEnumerator(self) (a Lua iterator triple whose second value is the element)
--   * the member names the translator accepts are rt.MEMBERS (the members of the
--     runtime's types plus CONTEXT_MEMBERS below); a name outside them fails at load time
--   * expressions cannot assign to context objects (APIM's context is read-only there)
-- Dictionaries made by the context may be rt.dictionary(get, keys, joined) or any object
-- with get_Item (indexer; throw KeyNotFoundException with rt.throw_new), ContainsKey,
-- GetValueOrDefault, TryGetValue, Count/Keys and GetEnumerator yielding rt.kvpair(k, v);
-- LINQ (Select, Where, First...) then works on them too.
-- Policy modules turn an expression's value into text with rt.str(v) (C# ToString:
-- null -> "", true -> "True", a JObject -> indented JSON).
-- Time comes from rt.set_clock(fn -> unix seconds), randomness from rt.set_random(fn).
-- Errors: C# exceptions are tables (rt.exception) with ClassName and Message and a
-- __tostring "FormatException: ..."; rt.message(err) gives the message of any error.
-- catch clauses catch them and plain Lua errors, never "not enough memory" nor
-- non-exception tables (the instruction budget, context.fail): those go through.
-- =========================================================================

local ipairs, pairs, match, rawget = ipairs, pairs, string.match, rawget

local core = require "portico.csharp.core"
local collections = require "portico.csharp.collections"
local numbers = require "portico.csharp.numbers"
local strings = require "portico.csharp.strings"
require "portico.csharp.encoding"
local json = require "portico.csharp.json"
require "portico.csharp.time"
require "portico.csharp.random"
require "portico.csharp.crypto"
require "portico.csharp.regex"
require "portico.csharp.jwt"
require "portico.csharp.operators"
require "portico.csharp.casts"
local dispatch = require "portico.csharp.dispatch"

local M, CLASSES = core.rt, core.CLASSES
local STRING_METHODS, NumberMethods, BoolMethods = strings.SM, numbers.NumberMethods, numbers.BoolMethods
local OBJECT_METHODS, LINQ, PRIMITIVE_JSON = dispatch.OBJECT_METHODS, collections.LINQ, json.PRIMITIVE_JSON

------------------------------------------------------------------------------
-- the member names the translator accepts (rt.MEMBERS.props / .methods): every
-- member of the modules above plus the context object model below

M.CONTEXT_MEMBERS = {
  props = {
    -- context
    "Request", "Response", "Variables", "Api", "Operation", "Product", "Subscription", "User",
    "Deployment", "LastError", "RequestId", "Timestamp", "Elapsed", "Tracing", "Workspace",
    -- IRequest / IResponse / IMessageBody
    "Method", "Url", "OriginalUrl", "OriginalMethod", "Headers", "Body", "IpAddress",
    "MatchedParameters", "Certificate", "HasBody", "StatusCode", "StatusReason",
    -- IUrl
    "Scheme", "Host", "Port", "Path", "Query", "QueryString",
    -- IApi / IOperation / IProduct / ISubscription / IUser / IGroup
    "Id", "Name", "ServiceUrl", "Protocols", "IsCurrentRevision", "Revision", "Version",
    "ApiVersionSet", "UrlTemplate", "Apis", "ApprovalRequired", "Groups", "State",
    "SubscriptionLimit", "SubscriptionRequired", "Key", "PrimaryKey", "SecondaryKey",
    "CreatedDate", "StartDate", "EndDate", "Email", "FirstName", "LastName", "Identities",
    "Note", "RegistrationDate", "Provider",
    -- IDeployment / ILastError
    "ServiceName", "ServiceId", "Region", "Gateway", "InstanceId", "IsManaged", "Certificates",
    "Source", "Reason", "Message", "Scope", "Section", "PolicyId",
    -- X509Certificate2 (read only)
    "Thumbprint", "Subject", "Issuer", "NotAfter", "NotBefore", "SerialNumber",
    -- Nullable<T>
    "HasValue", "Value",
  },
  methods = {
    "As", "AsFormUrlEncodedContent", "AsJwt", "TryParseJwt", "GetValueOrDefault", "ContainsKey",
    "TryGetValue", "ToUri", "ToString", "Equals", "GetHashCode", "Trace", "Verify", "VerifyNoRevocation",
  },
}

local function build_members()
  local props, methods = {}, {}
  local function add_methods(tbl)
    for name in pairs(tbl) do
      local base = match(name, "^(.-)<>$")
      methods[base or name] = true
    end
  end
  for _, C in pairs(CLASSES) do
    local K = C
    while K do
      for name in pairs(rawget(K, "props") or {}) do props[name] = true end
      add_methods(rawget(K, "methods") or {})
      for name in pairs(rawget(K, "setters") or {}) do props[name] = true end
      K = K.base
    end
  end
  add_methods(STRING_METHODS)
  add_methods(NumberMethods)
  add_methods(BoolMethods)
  add_methods(OBJECT_METHODS)
  add_methods(LINQ)
  add_methods(PRIMITIVE_JSON)
  add_methods({ AsJwt = true, TryParseJwt = true, Invoke = true })
  props.Length = true
  for _, n in ipairs(M.CONTEXT_MEMBERS.props) do props[n] = true end
  for _, n in ipairs(M.CONTEXT_MEMBERS.methods) do methods[n] = true end
  return { props = props, methods = methods }
end
M.MEMBERS = build_members()

return M
