-- csharp/crypto.lua - cryptography in the C# run-time library, in pure Lua.
--
-- Owns: SHA-256 and SHA-1 (rt.sha256, rt.sha1), HMAC over them (rt.hmac), the classes
-- HMACSHA256, HMACSHA1, SHA256, SHA1 (ComputeHash, Key) and their statics (Create,
-- HashData), AES-CBC with PKCS7 padding (rt.aes_cbc; APIM's byte[].Encrypt("Aes",
-- key, iv) and Decrypt).
--
-- Does not own: byte[] (collections.lua), random keys (random.lua), base64
-- (encoding.lua), JWT signatures (jwt.lua decodes tokens, it does not validate them).

local byte, char, gsub, lower, rep, sub = string.byte, string.char, string.gsub, string.lower, string.rep, string.sub
local concat, unpack = table.concat, table.unpack
local setmetatable = setmetatable

local core = require "portico.csharp.core"
local collections = require "portico.csharp.collections"
local random = require "portico.csharp.random"
local M, T, NEW = core.rt, core.T, core.NEW
local class, throw, str = core.class, core.throw, core.str
local Bytes, bytes, raw_bytes = collections.Bytes, collections.bytes, collections.raw_bytes
local random_bytes = random.random_bytes

------------------------------------------------------------------------------
-- hashes: SHA-256, SHA-1, HMAC over them (bytes in, Byte[] out)

local K256 = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}
local M32 = 0xffffffff
local function rotr(x, n) return ((x >> n) | (x << (32 - n))) & M32 end
local function rotl(x, n) return ((x << n) | (x >> (32 - n))) & M32 end

local function md_pad(msg)
  local len = #msg
  local pad = 64 - (len + 9) % 64
  if pad == 64 then pad = 0 end
  return msg .. "\128" .. rep("\0", pad) .. string.pack(">I8", len * 8)
end

local function sha256(msg)
  msg = md_pad(msg)
  local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do w[i] = string.unpack(">I4", msg, chunk + i * 4) end
    for i = 16, 63 do
      local s0 = rotr(w[i - 15], 7) ~ rotr(w[i - 15], 18) ~ (w[i - 15] >> 3)
      local s1 = rotr(w[i - 2], 17) ~ rotr(w[i - 2], 19) ~ (w[i - 2] >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & M32
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for i = 0, 63 do
      local S1 = rotr(e, 6) ~ rotr(e, 11) ~ rotr(e, 25)
      local ch = (e & f) ~ ((~e) & g)
      local t1 = (hh + S1 + ch + K256[i + 1] + w[i]) & M32
      local S0 = rotr(a, 2) ~ rotr(a, 13) ~ rotr(a, 22)
      local maj = (a & b) ~ (a & c) ~ (b & c)
      local t2 = (S0 + maj) & M32
      hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & M32, c, b, a, (t1 + t2) & M32
    end
    h[1] = (h[1] + a) & M32; h[2] = (h[2] + b) & M32; h[3] = (h[3] + c) & M32; h[4] = (h[4] + d) & M32
    h[5] = (h[5] + e) & M32; h[6] = (h[6] + f) & M32; h[7] = (h[7] + g) & M32; h[8] = (h[8] + hh) & M32
  end
  return string.pack(">I4I4I4I4I4I4I4I4", unpack(h))
end
M.sha256 = sha256

local function sha1(msg)
  msg = md_pad(msg)
  local h0, h1, h2, h3, h4 = 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0
  local w = {}
  for chunk = 1, #msg, 64 do
    for i = 0, 15 do w[i] = string.unpack(">I4", msg, chunk + i * 4) end
    for i = 16, 79 do w[i] = rotl(w[i - 3] ~ w[i - 8] ~ w[i - 14] ~ w[i - 16], 1) end
    local a, b, c, d, e = h0, h1, h2, h3, h4
    for i = 0, 79 do
      local f, k
      if i < 20 then f, k = (b & c) | ((~b) & d), 0x5A827999
      elseif i < 40 then f, k = b ~ c ~ d, 0x6ED9EBA1
      elseif i < 60 then f, k = (b & c) | (b & d) | (c & d), 0x8F1BBCDC
      else f, k = b ~ c ~ d, 0xCA62C1D6 end
      local t = (rotl(a, 5) + (f & M32) + e + k + w[i]) & M32
      e, d, c, b, a = d, c, rotl(b, 30), a, t
    end
    h0 = (h0 + a) & M32; h1 = (h1 + b) & M32; h2 = (h2 + c) & M32; h3 = (h3 + d) & M32; h4 = (h4 + e) & M32
  end
  return string.pack(">I4I4I4I4I4", h0, h1, h2, h3, h4)
end
M.sha1 = sha1

local function hmac(hash, key, msg)
  if #key > 64 then key = hash(key) end
  key = key .. rep("\0", 64 - #key)
  local ipad = gsub(key, ".", function(c) return char(byte(c) ~ 0x36) end)
  local opad = gsub(key, ".", function(c) return char(byte(c) ~ 0x5c) end)
  return hash(opad .. hash(ipad .. msg))
end
M.hmac = hmac

local function hash_class(name, hash, keyed)
  local C = class(name)
  C.methods.ComputeHash = function(h, b, offset, count)
    local s = raw_bytes(b, "buffer")
    if offset then s = sub(s, offset + 1, offset + count) end
    if keyed then
      if not h.key then throw("CryptographicException", name .. ": no key") end
      return bytes(hmac(hash, h.key, s))
    end
    return bytes(hash(s))
  end
  C.methods.Dispose = function() end
  C.methods.Clear = function() end
  if keyed then
    C.setters.Key = function(h, k) h.key = raw_bytes(k, "Key") end
    C.props.Key = function(h) return h.key and bytes(h.key) end
  end
  C.props.HashSize = function() return #hash("") * 8 end
  return C
end
local HMACSHA256 = hash_class("HMACSHA256", sha256, true)
local HMACSHA1 = hash_class("HMACSHA1", sha1, true)
local SHA256C = hash_class("SHA256", sha256, false)
local SHA1C = hash_class("SHA1", sha1, false)
-- AES-CBC with PKCS7 padding: APIM's byte[].Encrypt("Aes", key, iv) / Decrypt(...)
local function xtime(b) b = b << 1; if b > 0xff then b = b ~ 0x11b end return b end
local function gmul(a, b)
  local r = 0
  while b > 0 do
    if b & 1 == 1 then r = r ~ a end
    a = xtime(a)
    b = b >> 1
  end
  return r
end
local SBOX, INV_SBOX = {}, {}
do
  local function r8(v, n) return ((v << n) | (v >> (8 - n))) & 0xff end
  for i = 0, 255 do
    local inv = 0
    if i ~= 0 then
      for j = 1, 255 do if gmul(i, j) == 1 then inv = j; break end end
    end
    local x = inv ~ r8(inv, 1) ~ r8(inv, 2) ~ r8(inv, 3) ~ r8(inv, 4) ~ 0x63
    SBOX[i] = x
    INV_SBOX[x] = i
  end
end

local function aes_expand(key)
  local nk = #key // 4
  local nr = nk + 6
  local w = {}
  for i = 0, #key - 1 do w[i] = byte(key, i + 1) end
  local rcon = 1
  for i = nk, 4 * (nr + 1) - 1 do
    local t0, t1, t2, t3 = w[(i - 1) * 4], w[(i - 1) * 4 + 1], w[(i - 1) * 4 + 2], w[(i - 1) * 4 + 3]
    if i % nk == 0 then
      t0, t1, t2, t3 = SBOX[t1] ~ rcon, SBOX[t2], SBOX[t3], SBOX[t0]
      rcon = xtime(rcon)
    elseif nk > 6 and i % nk == 4 then
      t0, t1, t2, t3 = SBOX[t0], SBOX[t1], SBOX[t2], SBOX[t3]
    end
    local b = (i - nk) * 4
    w[i * 4], w[i * 4 + 1], w[i * 4 + 2], w[i * 4 + 3] = w[b] ~ t0, w[b + 1] ~ t1, w[b + 2] ~ t2, w[b + 3] ~ t3
  end
  return w, nr
end

local function add_round_key(st, w, round)
  local o = round * 16
  for i = 0, 15 do st[i] = st[i] ~ w[o + i] end
end

local function aes_block(st, w, nr, decrypt)
  if not decrypt then
    add_round_key(st, w, 0)
    for round = 1, nr do
      for i = 0, 15 do st[i] = SBOX[st[i]] end
      -- shift rows (state is column-major: st[c * 4 + r])
      st[1], st[5], st[9], st[13] = st[5], st[9], st[13], st[1]
      st[2], st[6], st[10], st[14] = st[10], st[14], st[2], st[6]
      st[3], st[7], st[11], st[15] = st[15], st[3], st[7], st[11]
      if round < nr then
        for c = 0, 12, 4 do
          local a0, a1, a2, a3 = st[c], st[c + 1], st[c + 2], st[c + 3]
          local t = a0 ~ a1 ~ a2 ~ a3
          st[c] = a0 ~ t ~ xtime(a0 ~ a1)
          st[c + 1] = a1 ~ t ~ xtime(a1 ~ a2)
          st[c + 2] = a2 ~ t ~ xtime(a2 ~ a3)
          st[c + 3] = a3 ~ t ~ xtime(a3 ~ a0)
        end
      end
      add_round_key(st, w, round)
    end
  else
    add_round_key(st, w, nr)
    for round = nr - 1, 0, -1 do
      st[1], st[5], st[9], st[13] = st[13], st[1], st[5], st[9]
      st[2], st[6], st[10], st[14] = st[10], st[14], st[2], st[6]
      st[3], st[7], st[11], st[15] = st[7], st[11], st[15], st[3]
      for i = 0, 15 do st[i] = INV_SBOX[st[i]] end
      add_round_key(st, w, round)
      if round > 0 then
        for c = 0, 12, 4 do
          local a0, a1, a2, a3 = st[c], st[c + 1], st[c + 2], st[c + 3]
          st[c] = gmul(a0, 14) ~ gmul(a1, 11) ~ gmul(a2, 13) ~ gmul(a3, 9)
          st[c + 1] = gmul(a0, 9) ~ gmul(a1, 14) ~ gmul(a2, 11) ~ gmul(a3, 13)
          st[c + 2] = gmul(a0, 13) ~ gmul(a1, 9) ~ gmul(a2, 14) ~ gmul(a3, 11)
          st[c + 3] = gmul(a0, 11) ~ gmul(a1, 13) ~ gmul(a2, 9) ~ gmul(a3, 14)
        end
      end
    end
  end
end

local AES_NAMES = { aes = true, rijndael = true, ["system.security.cryptography.aes"] = true,
  aesmanaged = true, aescryptoserviceprovider = true }

local function aes_cbc(input, alg, key, iv, decrypt)
  if not AES_NAMES[lower(str(alg))] then
    throw("NotSupportedException", "symmetric algorithm '" .. str(alg) .. "' is not supported (use \"Aes\")")
  end
  key, iv, input = raw_bytes(key, "key"), raw_bytes(iv, "iv"), raw_bytes(input, "input")
  if #key ~= 16 and #key ~= 24 and #key ~= 32 then
    throw("CryptographicException", "Specified key is not a valid size for this algorithm.")
  end
  if #iv ~= 16 then throw("CryptographicException", "Specified initialization vector (IV) does not match the block size for this algorithm.") end
  local w, nr = aes_expand(key)
  if not decrypt then
    local pad = 16 - #input % 16
    input = input .. rep(char(pad), pad)
  elseif #input % 16 ~= 0 or #input == 0 then
    throw("CryptographicException", "The input data is not a complete block.")
  end
  local prev = { byte(iv, 1, 16) }
  local out, st = {}, {}
  for off = 1, #input, 16 do
    local blk = { byte(input, off, off + 15) }
    for i = 0, 15 do st[i] = decrypt and blk[i + 1] or (blk[i + 1] ~ prev[i + 1]) end
    aes_block(st, w, nr, decrypt)
    local ob = {}
    for i = 0, 15 do
      ob[i + 1] = decrypt and (st[i] ~ prev[i + 1]) or st[i]
    end
    prev = decrypt and blk or ob
    out[#out + 1] = char(unpack(ob))
  end
  local res = concat(out)
  if decrypt then
    local pad = byte(res, -1)
    if not pad or pad < 1 or pad > 16 or sub(res, -pad) ~= rep(char(pad), pad) then
      throw("CryptographicException", "Padding is invalid and cannot be removed.")
    end
    res = sub(res, 1, -pad - 1)
  end
  return bytes(res)
end
M.aes_cbc = aes_cbc
Bytes.methods.Encrypt = function(b, alg, key, iv) return aes_cbc(b, alg, key, iv, false) end
Bytes.methods.Decrypt = function(b, alg, key, iv) return aes_cbc(b, alg, key, iv, true) end

T.SHA256 = { Create = function() return setmetatable({}, SHA256C) end,
  HashData = function(b) return bytes(sha256(raw_bytes(b, "source"))) end }
T.SHA1 = { Create = function() return setmetatable({}, SHA1C) end,
  HashData = function(b) return bytes(sha1(raw_bytes(b, "source"))) end }
T.HMACSHA256 = { HashData = function(k, b) return bytes(hmac(sha256, raw_bytes(k, "key"), raw_bytes(b, "source"))) end }
T.HMACSHA1 = { HashData = function(k, b) return bytes(hmac(sha1, raw_bytes(k, "key"), raw_bytes(b, "source"))) end }

function NEW.HMACSHA256(key)
  local h = setmetatable({}, HMACSHA256)
  h.key = key and raw_bytes(key, "key") or random_bytes(64)
  return h
end
function NEW.HMACSHA1(key)
  local h = setmetatable({}, HMACSHA1)
  h.key = key and raw_bytes(key, "key") or random_bytes(64)
  return h
end

return {}
