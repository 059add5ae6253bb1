-- csharp/time.lua - dates and durations in the C# run-time library.
--
-- Owns: the clock the runtime reads (rt.set_clock, rt.now), DateTime, DateTimeOffset
-- and TimeSpan (values, members, operators, formatting with standard and custom format
-- strings, ISO 8601 / RFC 1123 parsing, ParseExact), their statics and constructors,
-- and rt.datetime / rt.timespan, which context.lua uses for request times.
--
-- Does not own: casts to the date types (casts.lua), the object model (csharp.lua).

local find, format, gsub, lower, rep, sub, match =
  string.find, string.format, string.gsub, string.lower, string.rep, string.sub, string.match
local concat = table.concat
local floor, mtype, tointeger, abs = math.floor, math.type, math.tointeger, math.abs
local type, ipairs, tostring, tonumber, select, setmetatable, getmetatable, pcall =
  type, ipairs, tostring, tonumber, select, setmetatable, getmetatable, pcall
local rawequal = rawequal

local core = require "portico.csharp.core"
local numbers = require "portico.csharp.numbers"
local M, T, E, NEW = core.rt, core.T, core.E, core.NEW
local class, cls, throw, type_name, str, invalid_cast = core.class, core.cls, core.throw, core.type_name, core.str, core.invalid_cast
local need_string, need_int, out_of_range = core.need_string, core.need_int, core.out_of_range
local format_error, num_arg = numbers.format_error, numbers.num_arg

------------------------------------------------------------------------------
-- time: DateTime { ticks, kind }, DateTimeOffset { ticks (local clock), off (ticks) },
-- TimeSpan { ticks }; ticks are 100 ns since 0001-01-01, as in .NET. The gateway's
-- local time zone is UTC (DateTime.Now == DateTime.UtcNow, kind Local).

local TICKS_PER_MS, TICKS_PER_SEC = 10000, 10000000
local TICKS_PER_MIN, TICKS_PER_HOUR, TICKS_PER_DAY = 600000000, 36000000000, 864000000000
local UNIX_EPOCH = 621355968000000000
local MAX_TICKS = 3155378975999999999

local os_time = os and os.time
local clock = function() return os_time and os_time() or 0 end
-- The clock the runtime reads: a function returning Unix time in seconds (float
-- allowed). The engine sets a precise one; tests set a fixed one.
function M.set_clock(f) clock = f end
function M.now() return clock() end


-- days since 1970-01-01 of a civil date (proleptic Gregorian)
local function days_from_civil(y, m, d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp + (mp < 10 and 3 or -9)
  return m <= 2 and y + 1 or y, m, d
end

local DateTime = class("DateTime")
local DateTimeOffset = class("DateTimeOffset")
local TimeSpan = class("TimeSpan")
M.DateTimeClass, M.DateTimeOffsetClass, M.TimeSpanClass = DateTime, DateTimeOffset, TimeSpan

local function check_ticks(t)
  if t < 0 or t > MAX_TICKS then
    out_of_range("ticks", "The added or subtracted value results in an un-representable DateTime.")
  end
  return t
end

local function mkdt(ticks, kind) return setmetatable({ ticks = check_ticks(ticks), kind = kind or "Unspecified" }, DateTime) end
local function mkdto(ticks, off) return setmetatable({ ticks = check_ticks(ticks), off = off or 0 }, DateTimeOffset) end
local function mkts(ticks) return setmetatable({ ticks = ticks }, TimeSpan) end

local function ticks_of_seconds(s)
  if mtype(s) == "integer" then return s * TICKS_PER_SEC end
  -- whole seconds apart from the fraction: s * 1e7 does not fit a double's mantissa
  local whole = floor(s)
  return tointeger(whole) * TICKS_PER_SEC + (tointeger(floor((s - whole) * TICKS_PER_SEC + 0.5)) or 0)
end

-- Unix seconds -> DateTime (UTC); for context.lua
function M.datetime(unix_seconds) return mkdt(UNIX_EPOCH + ticks_of_seconds(unix_seconds), "Utc") end
function M.timespan(seconds) return mkts(ticks_of_seconds(seconds)) end

local function parts(ticks)
  local days = ticks // TICKS_PER_DAY
  local rest = ticks % TICKS_PER_DAY
  local y, mo, d = civil_from_days(days - UNIX_EPOCH // TICKS_PER_DAY)
  return y, mo, d, rest // TICKS_PER_HOUR, rest // TICKS_PER_MIN % 60, rest // TICKS_PER_SEC % 60,
    rest % TICKS_PER_SEC, days
end

local function ticks_from(y, mo, d, h, mi, s, ms)
  if mo < 1 or mo > 12 or d < 1 or d > 31 or y < 1 or y > 9999 then
    out_of_range("year/month/day", "Year, Month, and Day parameters describe an un-representable DateTime.")
  end
  local days = days_from_civil(y, mo, d) + UNIX_EPOCH // TICKS_PER_DAY
  local y2, m2 = civil_from_days(days - UNIX_EPOCH // TICKS_PER_DAY)
  if y2 ~= y or m2 ~= mo then
    out_of_range("day", "Year, Month, and Day parameters describe an un-representable DateTime.")
  end
  return days * TICKS_PER_DAY + (h or 0) * TICKS_PER_HOUR + (mi or 0) * TICKS_PER_MIN
    + (s or 0) * TICKS_PER_SEC + (ms or 0) * TICKS_PER_MS
end

local MONTHS = { "January", "February", "March", "April", "May", "June", "July", "August",
  "September", "October", "November", "December" }
local DAYS = { "Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday" }

local function weekday(days) return (days + 1) % 7 end -- 0001-01-01 was a Monday

local function offset_text(off, colon, short)
  local sign = off < 0 and "-" or "+"
  local m = abs(off) // TICKS_PER_MIN
  if short == 1 then return sign .. tostring(m // 60) end
  if short == 2 then return sign .. format("%02d", m // 60) end
  return format("%s%02d%s%02d", sign, m // 60, colon and ":" or "", m % 60)
end

local STANDARD_DT = {
  d = "MM/dd/yyyy", D = "dddd, dd MMMM yyyy", f = "dddd, dd MMMM yyyy HH:mm",
  F = "dddd, dd MMMM yyyy HH:mm:ss", g = "MM/dd/yyyy HH:mm", G = "MM/dd/yyyy HH:mm:ss",
  M = "MMMM dd", m = "MMMM dd", t = "HH:mm", T = "HH:mm:ss", Y = "yyyy MMMM", y = "yyyy MMMM",
  s = "yyyy'-'MM'-'dd'T'HH':'mm':'ss",
}

-- ticks: clock ticks to print; kind: "Utc"/"Local"/"Unspecified"; off: offset ticks (DTO) or nil
local function format_date(ticks, kind, off, spec)
  if spec == nil or spec == "" then spec = off and "G zzz" or "G" end
  if #spec == 1 then
    if spec == "o" or spec == "O" then
      spec = "yyyy'-'MM'-'dd'T'HH':'mm':'ss'.'fffffffK"
    elseif spec == "R" or spec == "r" then
      if off then ticks = ticks - off end
      spec, kind, off = "ddd, dd MMM yyyy HH':'mm':'ss 'GMT'", "Utc", nil
    elseif spec == "u" then
      if off then ticks = ticks - off end
      spec, kind, off = "yyyy'-'MM'-'dd HH':'mm':'ss'Z'", "Utc", nil
    elseif spec == "G" and off then spec = "MM/dd/yyyy HH:mm:ss zzz"
    elseif STANDARD_DT[spec] then spec = STANDARD_DT[spec]
    else throw("FormatException", "Input string was not in a correct format.") end
  end
  local y, mo, d, h, mi, s, frac, days = parts(ticks)
  local out, i, n = {}, 1, #spec
  while i <= n do
    local c = sub(spec, i, i)
    local run = match(spec, "^" .. gsub(c, "%p", "%%%0") .. "+", i)
    local k = #run
    if c == "y" then
      if k <= 2 then out[#out + 1] = format(k == 1 and "%d" or "%02d", y % 100)
      else out[#out + 1] = format("%0" .. k .. "d", y) end
    elseif c == "M" then
      if k == 1 then out[#out + 1] = tostring(mo) elseif k == 2 then out[#out + 1] = format("%02d", mo)
      elseif k == 3 then out[#out + 1] = sub(MONTHS[mo], 1, 3) else out[#out + 1] = MONTHS[mo] end
    elseif c == "d" then
      if k == 1 then out[#out + 1] = tostring(d) elseif k == 2 then out[#out + 1] = format("%02d", d)
      elseif k == 3 then out[#out + 1] = sub(DAYS[weekday(days) + 1], 1, 3)
      else out[#out + 1] = DAYS[weekday(days) + 1] end
    elseif c == "H" then out[#out + 1] = format(k == 1 and "%d" or "%02d", h)
    elseif c == "h" then out[#out + 1] = format(k == 1 and "%d" or "%02d", (h % 12 == 0) and 12 or h % 12)
    elseif c == "m" then out[#out + 1] = format(k == 1 and "%d" or "%02d", mi)
    elseif c == "s" then out[#out + 1] = format(k == 1 and "%d" or "%02d", s)
    elseif c == "f" or c == "F" then
      local digits = sub(format("%07d", frac), 1, math.min(k, 7))
      if c == "F" then digits = gsub(digits, "0+$", "") end
      if c == "F" and digits == "" and sub(out[#out] or "", -1) == "." then out[#out] = sub(out[#out], 1, -2) end
      out[#out + 1] = digits
    elseif c == "t" then out[#out + 1] = sub(h < 12 and "AM" or "PM", 1, k == 1 and 1 or 2)
    elseif c == "z" then
      out[#out + 1] = offset_text(off or 0, true, k < 3 and k or nil)
    elseif c == "K" then
      if off then out[#out + 1] = offset_text(off, true)
      elseif kind == "Utc" then out[#out + 1] = "Z"
      elseif kind == "Local" then out[#out + 1] = "+00:00" end
      k = 1
    elseif c == "'" or c == '"' then
      local close = find(spec, c, i + 1, true)
      if not close then throw("FormatException", "Cannot find a matching quote character for the character '" .. c .. "'.") end
      out[#out + 1] = sub(spec, i + 1, close - 1)
      k = close - i + 1
    elseif c == "\\" then
      out[#out + 1] = sub(spec, i + 1, i + 1)
      k = 2
    elseif c == "%" then
      k = 1
    else
      out[#out + 1] = c
      k = 1
    end
    i = i + k
  end
  return concat(out)
end

local function dt_of(v)
  if cls(v) == DateTime then return v end
  invalid_cast(v, "System.DateTime")
end

local function ts_arg(v)
  if cls(v) == TimeSpan then return v.ticks end
  throw("ArgumentException", "expected a TimeSpan, got " .. type_name(v))
end

local function add_months(ticks, months)
  local y, mo, d = parts(ticks)
  local total = y * 12 + (mo - 1) + need_int(months, "months")
  local ny, nm = total // 12, total % 12 + 1
  local dim = M.T.DateTime.DaysInMonth(ny, nm)
  if d > dim then d = dim end
  return ticks_from(ny, nm, d) + ticks % TICKS_PER_DAY
end

-- members shared by DateTime and DateTimeOffset (both keep clock ticks in .ticks)
local function date_members(C, mk)
  local P, Mth = C.props, C.methods
  P.Year = function(v) return (parts(v.ticks)) end
  P.Month = function(v) return select(2, parts(v.ticks)) end
  P.Day = function(v) return select(3, parts(v.ticks)) end
  P.Hour = function(v) return select(4, parts(v.ticks)) end
  P.Minute = function(v) return select(5, parts(v.ticks)) end
  P.Second = function(v) return select(6, parts(v.ticks)) end
  P.Millisecond = function(v) return select(7, parts(v.ticks)) // TICKS_PER_MS end
  P.Ticks = function(v) return v.ticks end
  P.DayOfWeek = function(v) return E.DayOfWeek[DAYS[weekday(v.ticks // TICKS_PER_DAY) + 1]] end
  P.DayOfYear = function(v)
    local y = parts(v.ticks)
    return (v.ticks - ticks_from(y, 1, 1)) // TICKS_PER_DAY + 1
  end
  P.TimeOfDay = function(v) return mkts(v.ticks % TICKS_PER_DAY) end
  local function adder(unit)
    return function(v, x)
      num_arg(x, "value")
      local t
      if mtype(x) == "integer" then t = x * unit else t = tointeger(floor(x * unit + 0.5)) end
      return mk(v, v.ticks + t)
    end
  end
  Mth.AddTicks = adder(1)
  Mth.AddMilliseconds = adder(TICKS_PER_MS)
  Mth.AddSeconds = adder(TICKS_PER_SEC)
  Mth.AddMinutes = adder(TICKS_PER_MIN)
  Mth.AddHours = adder(TICKS_PER_HOUR)
  Mth.AddDays = adder(TICKS_PER_DAY)
  Mth.AddMonths = function(v, m) return mk(v, add_months(v.ticks, m)) end
  Mth.AddYears = function(v, y) return mk(v, add_months(v.ticks, need_int(y, "years") * 12)) end
  Mth.Add = function(v, ts) return mk(v, v.ticks + ts_arg(ts)) end
  Mth.CompareTo = function(a, b) return M.compare(a, b) end
  Mth.Equals = function(a, b) return a == b end
  Mth.GetHashCode = function(v) return v.ticks & 0x7fffffff end
  local function dated(v)
    local mt = getmetatable(v)
    return rawequal(mt, DateTime) or rawequal(mt, DateTimeOffset)
  end
  C.__lt = function(a, b) return a:utc() < b:utc() end
  C.__le = function(a, b) return a:utc() <= b:utc() end
  -- Lua calls __eq for any two tables: compare only dates
  C.__eq = function(a, b) return dated(a) and dated(b) and a:utc() == b:utc() end
  C.__add = function(a, b) return mk(a, a.ticks + ts_arg(b)) end
end

DateTime.__index = { utc = function(v) return v.ticks end }
DateTimeOffset.__index = { utc = function(v) return v.ticks - v.off end }

date_members(DateTime, function(v, t) return mkdt(t, v.kind) end)
date_members(DateTimeOffset, function(v, t) return mkdto(t, v.off) end)

DateTime.tostring = function(v) return format_date(v.ticks, v.kind, nil, nil) end
DateTime.format = function(v, spec) return format_date(v.ticks, v.kind, nil, spec) end
DateTime.json = function(v) return format_date(v.ticks, v.kind, nil, "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFK") end
DateTime.props.Date = function(v) return mkdt(v.ticks - v.ticks % TICKS_PER_DAY, v.kind) end
DateTime.props.Kind = function(v) return E.DateTimeKind[v.kind] end
DateTime.methods.ToString = function(v, spec)
  if type(spec) ~= "string" then spec = nil end
  return format_date(v.ticks, v.kind, nil, spec)
end
DateTime.methods.ToUniversalTime = function(v) return mkdt(v.ticks, "Utc") end
DateTime.methods.ToLocalTime = function(v) return mkdt(v.ticks, "Local") end
DateTime.methods.Subtract = function(a, b)
  if cls(b) == TimeSpan then return mkdt(a.ticks - b.ticks, a.kind) end
  return mkts(a.ticks - dt_of(b).ticks)
end
DateTime.methods.ToFileTimeUtc = function(v) return v.ticks - 504911232000000000 end
DateTime.methods.ToUnixTimeSeconds = nil
DateTime.methods.ToShortDateString = function(v) return format_date(v.ticks, v.kind, nil, "d") end
DateTime.methods.ToLongDateString = function(v) return format_date(v.ticks, v.kind, nil, "D") end
DateTime.methods.ToShortTimeString = function(v) return format_date(v.ticks, v.kind, nil, "t") end
DateTime.methods.ToLongTimeString = function(v) return format_date(v.ticks, v.kind, nil, "T") end
DateTime.methods.ToOADate = function(v) return (v.ticks - 599264352000000000) / TICKS_PER_DAY end
DateTime.__sub = function(a, b)
  if cls(b) == TimeSpan then return mkdt(a.ticks - b.ticks, a.kind) end
  return mkts(a.ticks - dt_of(b).ticks)
end

DateTimeOffset.tostring = function(v) return format_date(v.ticks, nil, v.off, nil) end
DateTimeOffset.format = function(v, spec) return format_date(v.ticks, nil, v.off, spec) end
DateTimeOffset.json = function(v) return format_date(v.ticks, nil, v.off, "yyyy'-'MM'-'dd'T'HH':'mm':'ss.FFFFFFFzzz") end
DateTimeOffset.props.Offset = function(v) return mkts(v.off) end
DateTimeOffset.props.UtcDateTime = function(v) return mkdt(v.ticks - v.off, "Utc") end
DateTimeOffset.props.DateTime = function(v) return mkdt(v.ticks, "Unspecified") end
DateTimeOffset.props.LocalDateTime = function(v) return mkdt(v.ticks - v.off, "Local") end
DateTimeOffset.props.UtcTicks = function(v) return v.ticks - v.off end
DateTimeOffset.props.Date = function(v) return mkdt(v.ticks - v.ticks % TICKS_PER_DAY, "Unspecified") end
DateTimeOffset.methods.ToString = function(v, spec)
  if type(spec) ~= "string" then spec = nil end
  return format_date(v.ticks, nil, v.off, spec)
end
DateTimeOffset.methods.ToUnixTimeSeconds = function(v) return (v.ticks - v.off - UNIX_EPOCH) // TICKS_PER_SEC end
DateTimeOffset.methods.ToUnixTimeMilliseconds = function(v) return (v.ticks - v.off - UNIX_EPOCH) // TICKS_PER_MS end
DateTimeOffset.methods.ToUniversalTime = function(v) return mkdto(v.ticks - v.off, 0) end
DateTimeOffset.methods.ToLocalTime = DateTimeOffset.methods.ToUniversalTime
DateTimeOffset.methods.ToOffset = function(v, ts) return mkdto(v.ticks - v.off + ts_arg(ts), ts_arg(ts)) end
DateTimeOffset.methods.Subtract = function(a, b)
  if cls(b) == TimeSpan then return mkdto(a.ticks - b.ticks, a.off) end
  return mkts((a.ticks - a.off) - (b.ticks - b.off))
end
DateTimeOffset.__sub = function(a, b)
  if cls(b) == TimeSpan then return mkdto(a.ticks - b.ticks, a.off) end
  if cls(b) == DateTime then b = mkdto(b.ticks, 0) end
  return mkts((a.ticks - a.off) - (b.ticks - b.off))
end

local function now_ticks() return UNIX_EPOCH + ticks_of_seconds(clock()) end

local MONTH_NUM = {}
for i, m in ipairs(MONTHS) do MONTH_NUM[lower(sub(m, 1, 3))] = i end

-- ISO 8601 and RFC 1123 text -> clock ticks, offset ticks or nil, has zone
local function parse_date(s)
  if type(s) ~= "string" then return nil end
  local t = match(s, "^%s*(.-)%s*$")
  local y, mo, d, rest = match(t, "^(%d%d%d%d)-(%d%d?)-(%d%d?)(.*)$")
  if not y then
    local mm, dd, yy, rest2 = match(t, "^(%d%d?)/(%d%d?)/(%d%d%d%d)(.*)$")
    if mm then y, mo, d, rest = yy, mm, dd, rest2 end
  end
  if y then
    local h, mi, sec, frac, zone = 0, 0, 0, "", nil
    if rest ~= "" then
      local hh, mm2, tail = match(rest, "^[T ](%d%d?):(%d%d)(.*)$")
      if not hh then return nil end
      h, mi = hh, mm2
      local ss, tail2 = match(tail, "^:(%d%d)(.*)$")
      if ss then sec, tail = ss, tail2 end
      local f, tail3 = match(tail, "^[.,](%d+)(.*)$")
      if f then frac, tail = f, tail3 end
      tail = match(tail, "^%s*(.-)$")
      if tail ~= "" then zone = tail end
    end
    local ok, ticks = pcall(ticks_from, tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(sec))
    if not ok then return nil end
    if frac ~= "" then ticks = ticks + tonumber(sub(frac .. "000000", 1, 7)) end
    local off
    if zone then
      if zone == "Z" or zone == "z" or zone == "GMT" or zone == "UTC" then off = 0
      else
        local sg, oh, om = match(zone, "^([+-])(%d%d):?(%d%d)$")
        if not sg then return nil end
        off = (tonumber(oh) * 60 + tonumber(om)) * TICKS_PER_MIN
        if sg == "-" then off = -off end
      end
    end
    return ticks, off
  end
  -- RFC 1123: "Tue, 02 Jan 2024 03:04:05 GMT"
  local dd, mon, yy, hh, mm, ss, zone = match(t, "^%a+,%s*(%d%d?)%s+(%a%a%a)%s+(%d%d%d%d)%s+(%d%d):(%d%d):(%d%d)%s*(%a*)$")
  if dd then
    local m = MONTH_NUM[lower(mon)]
    if not m then return nil end
    local ok, ticks = pcall(ticks_from, tonumber(yy), m, tonumber(dd), tonumber(hh), tonumber(mm), tonumber(ss))
    if not ok then return nil end
    return ticks, (zone == "GMT" or zone == "UTC" or zone == "Z") and 0 or nil
  end
  return nil
end

T.DateTime = {
  UtcNow = function() return mkdt(now_ticks(), "Utc") end,
  Now = function() return mkdt(now_ticks(), "Local") end,
  Today = function() local t = now_ticks(); return mkdt(t - t % TICKS_PER_DAY, "Local") end,
  UnixEpoch = function() return mkdt(UNIX_EPOCH, "Utc") end,
  MinValue = function() return mkdt(0) end,
  MaxValue = function() return mkdt(MAX_TICKS) end,
  Parse = function(s)
    local ticks, off = parse_date(s)
    if not ticks then throw("FormatException", "String '" .. str(s) .. "' was not recognized as a valid DateTime.") end
    if off then return mkdt(ticks - off, "Utc") end
    return mkdt(ticks, "Unspecified")
  end,
  TryParse = function(s)
    local ticks, off = parse_date(s)
    if not ticks then return false, mkdt(0) end
    if off then return true, mkdt(ticks - off, "Utc") end
    return true, mkdt(ticks, "Unspecified")
  end,
  SpecifyKind = function(v, kind) return mkdt(dt_of(v).ticks, kind.name) end,
  DaysInMonth = function(y, m)
    local dim = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 }
    if m == 2 and (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) then return 29 end
    return dim[m]
  end,
  IsLeapYear = function(y) return y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0) end,
}
-- ParseExact(s, format): the format's fields become a pattern; standard one-letter
-- formats (o, s, u, R) fall back to Parse
local EXACT = { yyyy = "(%d%d%d%d)", MM = "(%d%d)", M = "(%d%d?)", dd = "(%d%d)", d = "(%d%d?)",
  HH = "(%d%d)", H = "(%d%d?)", mm = "(%d%d)", m = "(%d%d?)", ss = "(%d%d)", s = "(%d%d?)",
  yy = "(%d%d)" }
local function parse_exact(s, fmt)
  s, fmt = need_string(s, "s"), need_string(fmt, "format")
  if #fmt == 1 then return T.DateTime.Parse(s) end
  local pat, fields, i = { "^" }, {}, 1
  while i <= #fmt do
    local c = sub(fmt, i, i)
    local run = match(fmt, "^" .. gsub(c, "%p", "%%%0") .. "+", i)
    if EXACT[run] then
      pat[#pat + 1] = EXACT[run]; fields[#fields + 1] = run; i = i + #run
    elseif c == "f" or c == "F" then
      pat[#pat + 1] = c == "f" and ("(" .. rep("%d", #run) .. ")") or "(%d*)"; fields[#fields + 1] = "f"; i = i + #run
    elseif c == "'" or c == '"' then
      local close = find(fmt, c, i + 1, true) or (#fmt + 1)
      pat[#pat + 1] = gsub(sub(fmt, i + 1, close - 1), "%p", "%%%0"); i = close + 1
    elseif c == "\\" then
      pat[#pat + 1] = gsub(sub(fmt, i + 1, i + 1), "%p", "%%%0"); i = i + 2
    elseif c == "K" or run == "zzz" then
      pat[#pat + 1] = "(Z?[+-]?%d?%d?:?%d?%d?)"; fields[#fields + 1] = "zone"; i = i + #run
    elseif find("dfFghHKmMstyz", c, 1, true) then
      throw("FormatException", "ParseExact: format field '" .. run .. "' is not supported")
    else
      pat[#pat + 1] = gsub(c, "%p", "%%%0"); i = i + 1
    end
  end
  pat[#pat + 1] = "$"
  local caps = { match(s, concat(pat)) }
  if #caps == 0 then throw("FormatException", "String '" .. s .. "' was not recognized as a valid DateTime.") end
  local v = { yyyy = 1, MM = 1, dd = 1, HH = 0, mm = 0, ss = 0 }
  local frac, zone = "", nil
  for k, name in ipairs(fields) do
    local x = caps[k]
    if name == "f" then frac = x
    elseif name == "zone" then zone = x ~= "" and x or nil
    elseif name == "yy" then v.yyyy = 2000 + tonumber(x)
    else v[({ M = "MM", d = "dd", H = "HH", m = "mm", s = "ss" })[name] or name] = tonumber(x) end
  end
  local ok, ticks = pcall(ticks_from, v.yyyy, v.MM, v.dd, v.HH, v.mm, v.ss)
  if not ok then throw("FormatException", "String '" .. s .. "' was not recognized as a valid DateTime.") end
  if frac ~= "" then ticks = ticks + tonumber(sub(frac .. "000000", 1, 7)) end
  if zone then
    local _, off = parse_date("2000-01-01T00:00:00" .. zone)
    if off then return mkdt(ticks - off, "Utc") end
  end
  return mkdt(ticks, "Unspecified")
end
T.DateTime.ParseExact = parse_exact
T.DateTimeOffset = {
  UtcNow = function() return mkdto(now_ticks(), 0) end,
  Now = function() return mkdto(now_ticks(), 0) end,
  UnixEpoch = function() return mkdto(UNIX_EPOCH, 0) end,
  MinValue = function() return mkdto(0, 0) end,
  MaxValue = function() return mkdto(MAX_TICKS, 0) end,
  FromUnixTimeSeconds = function(s) return mkdto(UNIX_EPOCH + need_int(s, "seconds") * TICKS_PER_SEC, 0) end,
  FromUnixTimeMilliseconds = function(ms) return mkdto(UNIX_EPOCH + need_int(ms, "milliseconds") * TICKS_PER_MS, 0) end,
  Parse = function(s)
    local ticks, off = parse_date(s)
    if not ticks then throw("FormatException", "String '" .. str(s) .. "' was not recognized as a valid DateTime.") end
    return mkdto(ticks, off or 0)
  end,
  TryParse = function(s)
    local ticks, off = parse_date(s)
    if not ticks then return false, mkdto(0, 0) end
    return true, mkdto(ticks, off or 0)
  end,
}

TimeSpan.tostring = function(v)
  local t = v.ticks
  local sign = t < 0 and "-" or ""
  t = abs(t)
  local days = t // TICKS_PER_DAY
  local s = format("%s%s%02d:%02d:%02d", sign, days > 0 and (days .. ".") or "", t // TICKS_PER_HOUR % 24,
    t // TICKS_PER_MIN % 60, t // TICKS_PER_SEC % 60)
  local frac = t % TICKS_PER_SEC
  if frac > 0 then s = s .. format(".%07d", frac) end
  return s
end
TimeSpan.format = function(v) return TimeSpan.tostring(v) end
local TP = TimeSpan.props
TP.Ticks = function(v) return v.ticks end
TP.TotalDays = function(v) return v.ticks / TICKS_PER_DAY end
TP.TotalHours = function(v) return v.ticks / TICKS_PER_HOUR end
TP.TotalMinutes = function(v) return v.ticks / TICKS_PER_MIN end
TP.TotalSeconds = function(v) return v.ticks / TICKS_PER_SEC end
TP.TotalMilliseconds = function(v) return v.ticks / TICKS_PER_MS end
local function tpart(unit, mod)
  return function(v)
    local t = v.ticks
    local r = (abs(t) // unit) % mod
    return t < 0 and -r or r
  end
end
TP.Days = function(v) local t = v.ticks; return t < 0 and -((-t) // TICKS_PER_DAY) or t // TICKS_PER_DAY end
TP.Hours = tpart(TICKS_PER_HOUR, 24)
TP.Minutes = tpart(TICKS_PER_MIN, 60)
TP.Seconds = tpart(TICKS_PER_SEC, 60)
TP.Milliseconds = tpart(TICKS_PER_MS, 1000)
TimeSpan.methods.Add = function(a, b) return mkts(a.ticks + ts_arg(b)) end
TimeSpan.methods.Subtract = function(a, b) return mkts(a.ticks - ts_arg(b)) end
TimeSpan.methods.Negate = function(a) return mkts(-a.ticks) end
TimeSpan.methods.Duration = function(a) return mkts(abs(a.ticks)) end
TimeSpan.methods.ToString = function(v) return TimeSpan.tostring(v) end
TimeSpan.methods.CompareTo = function(a, b) return M.compare(a, b) end
TimeSpan.methods.Equals = function(a, b) return a == b end
TimeSpan.__add = function(a, b) return mkts(ts_arg(a) + ts_arg(b)) end
TimeSpan.__sub = function(a, b) return mkts(ts_arg(a) - ts_arg(b)) end
TimeSpan.__unm = function(a) return mkts(-a.ticks) end
TimeSpan.__eq = function(a, b)
  return rawequal(getmetatable(a), TimeSpan) and rawequal(getmetatable(b), TimeSpan) and a.ticks == b.ticks
end
TimeSpan.__lt = function(a, b) return a.ticks < b.ticks end
TimeSpan.__le = function(a, b) return a.ticks <= b.ticks end
local function ts_from(unit)
  return function(x)
    num_arg(x, "value")
    if mtype(x) == "integer" then return mkts(x * unit) end
    return mkts(tointeger(floor(x * unit + 0.5)))
  end
end
T.TimeSpan = {
  FromTicks = ts_from(1), FromMilliseconds = ts_from(TICKS_PER_MS), FromSeconds = ts_from(TICKS_PER_SEC),
  FromMinutes = ts_from(TICKS_PER_MIN), FromHours = ts_from(TICKS_PER_HOUR), FromDays = ts_from(TICKS_PER_DAY),
  Zero = function() return mkts(0) end,
  Parse = function(s)
    local sign, d, h, m, sec, f = match(need_string(s), "^%s*(-?)(%d*)%.?(%d%d?):(%d%d):?(%d*)%.?(%d*)%s*$")
    if not h then format_error(s) end
    local t = (tonumber(d) or 0) * TICKS_PER_DAY + tonumber(h) * TICKS_PER_HOUR + tonumber(m) * TICKS_PER_MIN
      + (tonumber(sec) or 0) * TICKS_PER_SEC + (f ~= "" and tonumber(sub(f .. "000000", 1, 7)) or 0)
    return mkts(sign == "-" and -t or t)
  end,
}

function NEW.DateTime(y, mo, d, h, mi, s, ms, kind)
  if type(ms) == "table" then ms, kind = nil, ms end
  if type(h) == "table" then h, kind = nil, h end
  if mo == nil then return mkdt(need_int(y, "ticks")) end
  return mkdt(ticks_from(y, mo, d, h, mi, s, ms), kind and kind.name or "Unspecified")
end
function NEW.DateTimeOffset(a, ...)
  if cls(a) == DateTime then
    local off = ...
    return mkdto(a.ticks, off and ts_arg(off) or 0)
  end
  local mo, d, h, mi, s, off = ...
  if mo == nil then return mkdto(need_int(a, "ticks"), 0) end
  local ms = 0
  if cls(off) ~= TimeSpan then ms, off = off, select(7, ...) end
  return mkdto(ticks_from(a, mo, d, h, mi, s, ms), off and ts_arg(off) or 0)
end
function NEW.TimeSpan(a, b, c, d, e)
  if b == nil then return mkts(need_int(a, "ticks")) end
  if d == nil then return mkts(a * TICKS_PER_HOUR + b * TICKS_PER_MIN + c * TICKS_PER_SEC) end
  return mkts(a * TICKS_PER_DAY + b * TICKS_PER_HOUR + c * TICKS_PER_MIN + d * TICKS_PER_SEC + (e or 0) * TICKS_PER_MS)
end

return { DateTime = DateTime, DateTimeOffset = DateTimeOffset, TimeSpan = TimeSpan }
