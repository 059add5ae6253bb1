-- expr/types.lua - what the expression translator knows about C# types.
--
-- Owns: type names (`System.String`, `String` and `string` agree: canon_name, the
-- keyword types, the namespaces a dotted name may start with), the types of the
-- subset (TYPES, exported as expr.TYPES: which runtime static class serves Type.Member,
-- the kind of each static member, how a cast to the type translates), the enumerations
-- (the runtime's rt.E), the types `new` may create (NEW), and the types that may only
-- be cast to, tested or declared (OPAQUE).
--
-- Does not own: the run-time meaning of any of it (portico/csharp/), the checks that
-- use these tables (checks.lua), the code written for them (codegen.lua).

local match = string.match
local pairs, ipairs = pairs, ipairs

local rt = require "portico.csharp"

local M = {}

------------------------------------------------------------------------------
-- types: names normalised so that `System.String`, `String` and `string` agree

local ALIAS = {
  String = "string", Int32 = "int", Int64 = "long", Int16 = "short", Byte = "byte",
  SByte = "sbyte", Boolean = "bool", Double = "double", Single = "float", Decimal = "decimal",
  Object = "object", Char = "char", UInt32 = "uint", UInt64 = "ulong", UInt16 = "ushort",
}
local NAMESPACES = {}
for _, ns in ipairs({ "System", "System.Collections", "System.Collections.Generic", "System.Linq",
  "System.Text", "System.Net", "System.Security.Cryptography", "System.Text.RegularExpressions",
  "System.Globalization", "Newtonsoft.Json", "Newtonsoft.Json.Linq", "System.Xml",
  "System.Xml.Linq", "System.IO", "System.Web", "Microsoft.IdentityModel.Tokens" }) do
  NAMESPACES[ns] = true
end
local KEYWORD_TYPES = {
  string = true, int = true, long = true, short = true, byte = true, sbyte = true, bool = true,
  double = true, float = true, decimal = true, object = true, char = true, uint = true,
  ulong = true, ushort = true, var = true, dynamic = true, void = true,
}
local NUMERIC = { int = true, long = true, short = true, byte = true, sbyte = true, uint = true,
  ulong = true, ushort = true, double = true, float = true, decimal = true }
local INTEGRAL = { int = true, long = true, short = true, byte = true, sbyte = true, uint = true,
  ulong = true, ushort = true }

-- "System.Text.Encoding" -> "Encoding"; "Int32" -> "int"
local function canon_name(dotted)
  local ns, last = match(dotted, "^(.*)%.([^.]+)$")
  if ns then
    if not NAMESPACES[ns] then return dotted end
    dotted = last
  end
  return ALIAS[dotted] or dotted
end

-- What the translator knows about types, beyond their names: `static` members for
-- Type.Member (m = method, p = property read through a function, v = value field,
-- lua = inline Lua, enum = enumeration value), and how casts to the type translate.
local T = {}
M.TYPES = T

local function statics(list)
  local s = {}
  for name, kind in pairs(list) do s[name] = kind end
  return s
end

T.string = { rt = "String", cast = "convert", static = statics {
  Empty = { lua = '""', type = "string", nonnil = true },
  IsNullOrEmpty = { m = true, type = "bool" }, IsNullOrWhiteSpace = { m = true, type = "bool" },
  Format = { m = true, type = "string", nonnil = true }, Join = { m = true, type = "string", nonnil = true },
  Concat = { m = true, type = "string", nonnil = true }, Equals = { m = true, type = "bool" },
  Compare = { m = true, type = "int" }, CompareOrdinal = { m = true, type = "int" },
} }
local function numeric_type(rtname, lo, hi, extra, kind)
  local s = {
    Parse = { m = true, type = kind, nonnil = true }, TryParse = { m = true, type = "bool" },
    MaxValue = { lua = hi }, MinValue = { lua = lo },
  }
  for k, v in pairs(extra or {}) do s[k] = v end
  return { rt = rtname, cast = "convert", static = s }
end
T.int = numeric_type("Int32", "-2147483648", "2147483647", nil, "int")
T.long = numeric_type("Int64", "math.mininteger", "9223372036854775807", nil, "long")
T.long.static.MinValue = { lua = "(-9223372036854775807 - 1)" }
T.short = numeric_type("Int16", "-32768", "32767")
T.byte = numeric_type("Byte", "0", "255")
T.sbyte = numeric_type("SByte", "-128", "127")
T.uint = numeric_type("UInt32", "0", "4294967295")
T.ushort = numeric_type("UInt16", "0", "65535")
T.ulong = numeric_type("UInt64", "0", "-1")
T.double = numeric_type("Double", "-1.7976931348623157e308", "1.7976931348623157e308", {
  IsNaN = { m = true, type = "bool" }, NaN = { lua = "(0.0/0.0)" },
  PositiveInfinity = { lua = "(1.0/0.0)" }, NegativeInfinity = { lua = "(-1.0/0.0)" },
  Epsilon = { lua = "4.9406564584124654e-324" } }, "double")
T.float = numeric_type("Double", "-3.4028234663852886e38", "3.4028234663852886e38")
T.decimal = numeric_type("Double", "-7.9228162514264337593543950335e28", "7.9228162514264337593543950335e28")
T.bool = { rt = "Boolean", cast = "convert", static = statics {
  Parse = { m = true, type = "bool" }, TryParse = { m = true, type = "bool" },
  TrueString = { lua = '"True"' }, FalseString = { lua = '"False"' },
} }
T.char = { rt = "Char", cast = "convert", static = statics {
  IsDigit = { m = true, type = "bool" }, IsLetter = { m = true, type = "bool" },
  IsLetterOrDigit = { m = true, type = "bool" }, IsWhiteSpace = { m = true, type = "bool" },
  IsUpper = { m = true, type = "bool" }, IsLower = { m = true, type = "bool" },
  ToUpper = { m = true, type = "char" }, ToLower = { m = true, type = "char" },
} }
T.object = { cast = "none", static = statics { Equals = { m = true, type = "bool" },
  ReferenceEquals = { m = true, type = "bool" } } }
T.dynamic = { cast = "none" }
T.Convert = { rt = "Convert", static = statics {
  ToBase64String = { m = true, type = "string", nonnil = true }, FromBase64String = { m = true },
  ToInt32 = { m = true, type = "int" }, ToInt64 = { m = true, type = "long" },
  ToInt16 = { m = true, type = "short" }, ToByte = { m = true, type = "byte" },
  ToDouble = { m = true, type = "double" }, ToDecimal = { m = true, type = "double" },
  ToSingle = { m = true, type = "double" }, ToBoolean = { m = true, type = "bool" },
  ToString = { m = true, type = "string" }, ToChar = { m = true, type = "char" },
  ToDateTime = { m = true }, ToHexString = { m = true, type = "string", nonnil = true },
  FromHexString = { m = true },
} }
T.Math = { rt = "Math", static = statics {
  Min = { m = true }, Max = { m = true }, Abs = { m = true }, Floor = { m = true, type = "double" },
  Ceiling = { m = true, type = "double" }, Round = { m = true, type = "double" },
  Truncate = { m = true, type = "double" }, Pow = { m = true, type = "double" },
  Sqrt = { m = true, type = "double" }, Sign = { m = true, type = "int" },
  Log = { m = true, type = "double" }, Log10 = { m = true, type = "double" },
  Exp = { m = true, type = "double" },
  PI = { lua = "3.141592653589793", type = "double" }, E = { lua = "2.718281828459045", type = "double" },
} }
T.Guid = { rt = "Guid", cast = "check", static = statics {
  NewGuid = { m = true }, Parse = { m = true }, TryParse = { m = true, type = "bool" },
  Empty = { p = true },
} }
T.DateTime = { rt = "DateTime", cast = "check", static = statics {
  UtcNow = { p = true }, Now = { p = true }, Today = { p = true }, UnixEpoch = { p = true },
  MinValue = { p = true }, MaxValue = { p = true },
  Parse = { m = true }, TryParse = { m = true, type = "bool" }, ParseExact = { m = true },
  SpecifyKind = { m = true }, DaysInMonth = { m = true, type = "int" },
  IsLeapYear = { m = true, type = "bool" },
} }
T.DateTimeOffset = { rt = "DateTimeOffset", cast = "convert", static = statics {
  UtcNow = { p = true }, Now = { p = true }, UnixEpoch = { p = true },
  MinValue = { p = true }, MaxValue = { p = true },
  FromUnixTimeSeconds = { m = true }, FromUnixTimeMilliseconds = { m = true },
  Parse = { m = true }, TryParse = { m = true, type = "bool" },
} }
T.TimeSpan = { rt = "TimeSpan", cast = "check", static = statics {
  FromSeconds = { m = true }, FromMinutes = { m = true }, FromHours = { m = true },
  FromDays = { m = true }, FromMilliseconds = { m = true }, FromTicks = { m = true },
  Zero = { p = true }, Parse = { m = true },
} }
T.Encoding = { rt = "Encoding", static = statics {
  UTF8 = { v = true }, ASCII = { v = true }, Default = { v = true }, Unicode = { v = true },
} }
T.Uri = { rt = "Uri", cast = "check", static = statics {
  EscapeDataString = { m = true, type = "string", nonnil = true },
  UnescapeDataString = { m = true, type = "string", nonnil = true },
  EscapeUriString = { m = true, type = "string", nonnil = true },
  IsWellFormedUriString = { m = true, type = "bool" }, TryCreate = { m = true, type = "bool" },
} }
T.WebUtility = { rt = "WebUtility", static = statics {
  UrlEncode = { m = true, type = "string" }, UrlDecode = { m = true, type = "string" },
  HtmlEncode = { m = true, type = "string" }, HtmlDecode = { m = true, type = "string" },
} }
T.HttpUtility = T.WebUtility
T.JObject = { rt = "JObject", cast = "check", static = statics {
  Parse = { m = true }, FromObject = { m = true },
} }
T.JArray = { rt = "JArray", cast = "check", static = statics {
  Parse = { m = true }, FromObject = { m = true },
} }
T.JToken = { rt = "JToken", cast = "check", static = statics {
  Parse = { m = true }, FromObject = { m = true },
} }
T.JValue = { rt = "JValue", cast = "check", static = statics { CreateNull = { m = true } } }
T.JProperty = { rt = "JProperty", cast = "check", static = {} }
T.JsonConvert = { rt = "JsonConvert", static = statics {
  SerializeObject = { m = true, type = "string", nonnil = true },
  DeserializeObject = { m = true, generic = true },
} }
T.Array = { rt = "Array", static = statics {
  Exists = { m = true, type = "bool" }, IndexOf = { m = true, type = "int" },
  Copy = { m = true }, Reverse = { m = true }, Sort = { m = true }, Find = { m = true },
  Empty = { m = true, generic = true }, Resize = { m = true },
} }
T.Enumerable = { rt = "Enumerable", static = statics {
  Range = { m = true }, Repeat = { m = true }, Empty = { m = true, generic = true },
} }
T.Regex = { rt = "Regex", cast = "check", static = statics {
  IsMatch = { m = true, type = "bool" }, Match = { m = true }, Matches = { m = true },
  Replace = { m = true, type = "string", nonnil = true }, Split = { m = true },
  Escape = { m = true, type = "string", nonnil = true }, Unescape = { m = true, type = "string", nonnil = true },
} }
T.BitConverter = { rt = "BitConverter", static = statics {
  ToInt32 = { m = true, type = "int" }, ToString = { m = true, type = "string" },
  GetBytes = { m = true }, IsLittleEndian = { lua = "true", type = "bool" },
} }
T.SHA256 = { rt = "SHA256", static = statics { Create = { m = true }, HashData = { m = true } } }
T.SHA1 = { rt = "SHA1", static = statics { Create = { m = true }, HashData = { m = true } } }
T.HMACSHA256 = { rt = "HMACSHA256", static = statics { HashData = { m = true } } }
T.HMACSHA1 = { rt = "HMACSHA1", static = statics { HashData = { m = true } } }

-- enumerations: Type.Name -> rt.E.Type.Name (the list is the runtime's)
local ENUMS = rt.E
for name, values in pairs(ENUMS) do
  local s = {}
  for v in pairs(values) do s[v] = { enum = true } end
  T[name] = T[name] or { rt = name, static = s }
  T[name].enum = name
  T[name].static = s
end
T.CultureInfo = { rt = "CultureInfo", static = statics {
  InvariantCulture = { lua = "nil" }, CurrentCulture = { lua = "nil" },
} }

-- types `new` may create (rt.new(name, ...)); the generic argument list is dropped
local NEW = {
  JObject = true, JArray = true, JProperty = true, JValue = true, List = true, Dictionary = true,
  HashSet = true, StringBuilder = true, Random = true, Uri = true, DateTime = true,
  DateTimeOffset = true, TimeSpan = true, Guid = true, HMACSHA256 = true, HMACSHA1 = true,
  Regex = true, KeyValuePair = true, Exception = true, ArgumentException = true,
  ArgumentNullException = true, ArgumentOutOfRangeException = true, FormatException = true,
  InvalidOperationException = true, InvalidCastException = true, NotSupportedException = true,
  NotImplementedException = true, KeyNotFoundException = true, ApplicationException = true,
  JsonReaderException = true, string = true, object = true,
}
-- types a value may be cast to, tested with is/as, or declared with, without
-- being fully modelled: casts to them pass the value through unchanged
local OPAQUE = {
  IResponse = true, IRequest = true, IMessage = true, IUrl = true, IMessageBody = true,
  IHeaderDictionary = true, IReadOnlyDictionary = true, IDictionary = true, IEnumerable = true,
  IList = true, ICollection = true, IReadOnlyList = true, IReadOnlyCollection = true,
  IApi = true, IOperation = true, IProduct = true, ISubscription = true, IUser = true,
  IGroup = true, IDeployment = true, ILastError = true, IProxyRequestContext = true,
  IContext = true, Jwt = true, Func = true, Action = true, Match = true, Group = true,
  MatchCollection = true, GroupCollection = true,
  Exception = true, List = true, Dictionary = true, HashSet = true, StringBuilder = true,
  Random = true, KeyValuePair = true, JProperty = true, JValue = true, HMACSHA256 = true,
  HMACSHA1 = true, SHA256 = true, SHA1 = true, Regex = true, Encoding = true,
  DateTimeKind = true, StringComparison = true, CultureInfo = true, Lazy = true,
  IFormatProvider = true, DayOfWeek = true,
}
for name in pairs(rt.EXCEPTION_TYPES or {}) do OPAQUE[name] = true; NEW[name] = true end

M.ALIAS, M.NAMESPACES, M.KEYWORD_TYPES, M.NUMERIC, M.INTEGRAL = ALIAS, NAMESPACES, KEYWORD_TYPES, NUMERIC, INTEGRAL
M.canon_name, M.NEW, M.OPAQUE = canon_name, NEW, OPAQUE

return M
