-- Distinct windows: every request asks for a (start_date, end_date) pair no earlier request of
-- this bench process asked for, so a server with a replay cache answers each one in full.
--
--   wrk -t2 -c16 -d10s -H 'Authorization: Bearer ...' -s bench/distinct.lua URL -- BASE SPAN THREADS
--
-- BASE and SPAN: this run's block of window numbers, [BASE, BASE + SPAN) (bench.distinct hands each
-- wrk run a fresh block); THREADS: wrk's -t. Thread i (numbered by setup) takes the numbers
-- BASE + i, BASE + i + THREADS, ...: disjoint between threads and dense, so a run uses as many
-- numbers as it sends requests, and stops with an error rather than leave its block (no replay).
--
-- Window number k maps to start = 1900-01-01 + (k mod 73000) days, end = start + floor(k / 73000)
-- days: injective, start <= end, and valid ISO dates up to 9999-12-31 while k stays under
-- bench.distinct.CAPACITY (the dates are computed from day numbers with Howard Hinnant's
-- civil_from_days; bench/distinct.py holds the same mapping in Python and the tests compare them).

local STARTS = 73000          -- bench.distinct.STARTS
local EPOCH = -25567          -- 1900-01-01 in days since 1970-01-01 (bench.distinct.EPOCH)

local floor = math.floor
local format = string.format

local threads_set_up = 0

function setup(thread)
   thread:set("thread_index", threads_set_up)
   threads_set_up = threads_set_up + 1
end

local base, span, stride, offset, path, sent, head, tail

-- days since 1970-01-01 -> year, month, day (proleptic Gregorian; Hinnant's civil_from_days)
local function civil_from_days(z)
   z = z + 719468
   local era = floor(z / 146097)
   local doe = z - era * 146097
   local yoe = floor((doe - floor(doe / 1460) + floor(doe / 36524) - floor(doe / 146096)) / 365)
   local y = yoe + era * 400
   local doy = doe - (365 * yoe + floor(yoe / 4) - floor(yoe / 100))
   local mp = floor((5 * doy + 2) / 153)
   local d = doy - floor((153 * mp + 2) / 5) + 1
   local m = mp < 10 and mp + 3 or mp - 9
   if m <= 2 then y = y + 1 end
   return y, m, d
end

-- day number -> "YYYY-MM-DD", remembered: a run's windows share their start days (73,000 of them)
-- and their end days (a range as wide plus the few lengths one run reaches)
local iso_of = {}
local function iso(days)
   local text = iso_of[days]
   if text == nil then
      text = format("%04d-%02d-%02d", civil_from_days(days))
      iso_of[days] = text
   end
   return text
end

function init(args)
   base = tonumber(args[1])
   span = tonumber(args[2])
   stride = tonumber(args[3])
   if base == nil or span == nil or stride == nil then
      error("distinct.lua needs three arguments after the URL: -- BASE SPAN THREADS")
   end
   offset = thread_index or 0
   if offset >= stride then
      error("distinct.lua: more wrk threads than THREADS says")
   end
   path = wrk.path:gsub("%?.*$", "")
   sent = 0
   -- the request line's head and everything after it, built once (what wrk.format would build
   -- for every request: the -H headers and Host); only the query changes
   local headers = {}
   for name, value in pairs(wrk.headers) do
      headers[#headers + 1] = name .. ": " .. value .. "\r\n"
   end
   if not wrk.headers["Host"] then
      headers[#headers + 1] = "Host: " .. wrk.host .. (wrk.port and (":" .. wrk.port) or "") .. "\r\n"
   end
   head = "GET " .. path .. "?start_date="
   tail = " HTTP/1.1\r\n" .. table.concat(headers) .. "\r\n"
end

function request()
   local n = offset + sent * stride
   if n >= span then
      error("distinct.lua: this run used its whole block of windows (give it a larger SPAN)")
   end
   sent = sent + 1
   local k = base + n
   local first = EPOCH + k % STARTS
   local last = first + floor(k / STARTS)
   return head .. iso(first) .. "&end_date=" .. iso(last) .. tail
end
