-- webhook.lua - a wrk script that sends provider webhooks, each one
-- signed as the provider signs it, each one a new event.
--
--   wrk -t2 -c64 -d10s -s bench/webhooks/webhook.lua http://127.0.0.1:PORT \
--       -- <retell|twilio> <key> <public_url> [path]
--
-- retell: POST <path> (default /webhooks/retell), JSON
--   {"event": call_started|call_ended|call_analyzed, "call": {...}} with
--   x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256(key, body .. ms)>
--   where <key> is the Retell API key the plugin verifies with.
-- twilio: POST <path> (default /webhooks/twilio/status), a form-encoded
--   status callback (initiated, ringing, in-progress, completed with
--   SequenceNumber 0..3, empty location fields included, as Twilio sends
--   them) with X-Twilio-Signature: base64(HMAC-SHA1(auth token,
--   <public_url><path> .. every param name..value, names sorted)).
--   <key> is the auth token; <public_url> must be the URL the plugin
--   believes Twilio called (its public_url setting), since Twilio signs
--   the full URL.
--   With BENCH_TWILIO_RECORDINGS=N (N > 0) one request in N is instead a
--   signed recording callback (RecordingStatus=completed) to the sibling
--   route <path minus /status>/recording, whose RecordingUrl is on
--   BENCH_TWILIO_RECORDING_BASE (default http://192.0.2.1, TEST-NET-1:
--   unroutable): every such callback queues a download that cannot
--   succeed, so the plugin's queue of pending recordings grows through
--   the run as it does while the media host is unreachable.
--
-- Every request carries a fresh (call, event) pair: ids hold the start
-- time of the run, the wrk thread and a counter, so rounds and threads
-- never repeat an event and the receiver's idempotency check never turns
-- the run into a measure of duplicate rejection. Signing is done here, in
-- LuaJIT (SHA-256, SHA-1 and HMAC below, checked against Python's hmac by
-- `run.sh --selftest`), because wrk has no crypto of its own: it costs a
-- few microseconds per request, far below what a durable ingest costs.

local bit = require("bit")
local band, bor, bxor, bnot = bit.band, bit.bor, bit.bxor, bit.bnot
local lshift, rshift, ror, rol = bit.lshift, bit.rshift, bit.ror, bit.rol
local tobit, tohex = bit.tobit, bit.tohex
local byte, char, rep, fmt = string.byte, string.char, string.rep, string.format

-- ---------------------------------------------------------------- hashing

local K256 = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

-- Merkle-Damgard padding: 0x80, zeros, the bit length big-endian.
local function pad(msg)
	local len = #msg
	local bits = len * 8
	local tail = {}
	for i = 7, 0, -1 do
		tail[#tail + 1] = char(math.floor(bits / 2 ^ (8 * i)) % 256)
	end
	return msg .. "\128" .. rep("\0", (55 - len) % 64) .. table.concat(tail)
end

local function word(s, i)
	local a, b, c, d = byte(s, i, i + 3)
	return bor(lshift(a, 24), lshift(b, 16), lshift(c, 8), d)
end

local function words_out(H, n)
	local out = {}
	for i = 1, n do
		local x = H[i]
		out[i] = char(band(rshift(x, 24), 255), band(rshift(x, 16), 255),
			band(rshift(x, 8), 255), band(x, 255))
	end
	return table.concat(out)
end

local function sha256(msg)
	msg = pad(msg)
	local H = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f,
		0x9b05688c, 0x1f83d9ab, 0x5be0cd19}
	local w = {}
	for off = 1, #msg, 64 do
		for j = 0, 15 do
			w[j] = word(msg, off + j * 4)
		end
		for j = 16, 63 do
			local a, b = w[j - 15], w[j - 2]
			local s0 = bxor(ror(a, 7), ror(a, 18), rshift(a, 3))
			local s1 = bxor(ror(b, 17), ror(b, 19), rshift(b, 10))
			w[j] = tobit(w[j - 16] + s0 + w[j - 7] + s1)
		end
		local a, b, c, d, e, f, g, h =
			H[1], H[2], H[3], H[4], H[5], H[6], H[7], H[8]
		for j = 0, 63 do
			local S1 = bxor(ror(e, 6), ror(e, 11), ror(e, 25))
			local ch = bxor(band(e, f), band(bnot(e), g))
			local t1 = tobit(h + S1 + ch + K256[j + 1] + w[j])
			local S0 = bxor(ror(a, 2), ror(a, 13), ror(a, 22))
			local maj = bxor(band(a, b), band(a, c), band(b, c))
			local t2 = tobit(S0 + maj)
			h, g, f, e = g, f, e, tobit(d + t1)
			d, c, b, a = c, b, a, tobit(t1 + t2)
		end
		H[1], H[2] = tobit(H[1] + a), tobit(H[2] + b)
		H[3], H[4] = tobit(H[3] + c), tobit(H[4] + d)
		H[5], H[6] = tobit(H[5] + e), tobit(H[6] + f)
		H[7], H[8] = tobit(H[7] + g), tobit(H[8] + h)
	end
	return words_out(H, 8)
end

local function sha1(msg)
	msg = pad(msg)
	local H = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0}
	local w = {}
	for off = 1, #msg, 64 do
		for j = 0, 15 do
			w[j] = word(msg, off + j * 4)
		end
		for j = 16, 79 do
			w[j] = rol(bxor(w[j - 3], w[j - 8], w[j - 14], w[j - 16]), 1)
		end
		local a, b, c, d, e = H[1], H[2], H[3], H[4], H[5]
		for j = 0, 79 do
			local f, k
			if j < 20 then
				f, k = bor(band(b, c), band(bnot(b), d)), 0x5a827999
			elseif j < 40 then
				f, k = bxor(b, c, d), 0x6ed9eba1
			elseif j < 60 then
				f, k = bor(band(b, c), band(b, d), band(c, d)), 0x8f1bbcdc
			else
				f, k = bxor(b, c, d), 0xca62c1d6
			end
			local t = tobit(rol(a, 5) + f + e + k + w[j])
			e, d, c, b, a = d, c, rol(b, 30), a, t
		end
		H[1], H[2] = tobit(H[1] + a), tobit(H[2] + b)
		H[3], H[4] = tobit(H[3] + c), tobit(H[4] + d)
		H[5] = tobit(H[5] + e)
	end
	return words_out(H, 5)
end

local function xor_key(key, v)
	local out = {}
	for i = 1, 64 do
		out[i] = char(bxor(byte(key, i), v))
	end
	return table.concat(out)
end

-- RFC 2104, 64-byte blocks (both hashes here).
local function hmac(hash, key, msg)
	if #key > 64 then
		key = hash(key)
	end
	key = key .. rep("\0", 64 - #key)
	return hash(xor_key(key, 0x5c) .. hash(xor_key(key, 0x36) .. msg))
end

local function hex(s)
	return (s:gsub(".", function(c) return fmt("%02x", byte(c)) end))
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
local function base64(s)
	local out = {}
	for i = 1, #s, 3 do
		local a, b, c = byte(s, i, i + 2)
		local n = a * 65536 + (b or 0) * 256 + (c or 0)
		local q = {}
		for k = 3, 0, -1 do
			local idx = math.floor(n / 64 ^ k) % 64
			q[#q + 1] = B64:sub(idx + 1, idx + 1)
		end
		if not b then
			q[3], q[4] = "=", "="
		elseif not c then
			q[4] = "="
		end
		out[#out + 1] = table.concat(q)
	end
	return table.concat(out)
end

local function urlencode(s)
	return (s:gsub("[^%w%-%._~]", function(c) return fmt("%%%02X", byte(c)) end))
end

-- ---------------------------------------------------------------- clock

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } cx_bench_timespec;
int clock_gettime(int clk, cx_bench_timespec *ts);
]]
local ts = ffi.new("cx_bench_timespec")
local function now_ms()
	ffi.C.clock_gettime(0, ts) -- CLOCK_REALTIME: Retell's window is wall time
	return tonumber(ts.tv_sec) * 1000 + math.floor(tonumber(ts.tv_nsec) / 1e6)
end

-- ---------------------------------------------------------------- wrk

local threads = 0
function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end

local provider, key, public_url, path, run_id
local rec_every, rec_path, rec_base = 0, nil, nil
local counter, status_n, rec_n = 0, 0, 0

function init(args)
	provider = args[1] or "retell"
	key = args[2] or os.getenv("BENCH_WEBHOOK_KEY")
	public_url = args[3] or ""
	if provider ~= "retell" and provider ~= "twilio" then
		error("provider must be retell or twilio, not " .. tostring(provider))
	end
	if not key or key == "" then
		error("no signing key: pass it after -- (see the header)")
	end
	path = args[4] or (provider == "retell" and "/webhooks/retell" or
		"/webhooks/twilio/status")
	-- 11 hex digits of the start time in ms (bit.tohex: 32-bit pieces,
	-- so no number-formatting limits get in the way).
	local ms = now_ms()
	run_id = tohex(math.floor(ms / 2 ^ 32), 3) .. tohex(ms % 2 ^ 32, 8)
	tid = tid or 0
	rec_every = tonumber(os.getenv("BENCH_TWILIO_RECORDINGS") or "0") or 0
	rec_path = path:gsub("/status$", "") .. "/recording"
	rec_base = os.getenv("BENCH_TWILIO_RECORDING_BASE") or "http://192.0.2.1"
end

local RETELL_EVENTS = {"call_started", "call_ended", "call_analyzed"}
local TRANSCRIPT = "Agent: Hi, this is Anna from Brightline Solar.\\n" ..
	"User: Yes, speaking.\\nAgent: I can offer a site visit on Thursday " ..
	"at 10.\\nUser: Thursday works, please email me.\\n"

local function retell_body(n)
	local ev = RETELL_EVENTS[n % 3 + 1]
	local call_id = "call_bench" .. run_id .. tohex(tid, 2) ..
		tohex(math.floor(n / 3), 8)
	local t0 = now_ms() - 95000
	local call = fmt('"call_id":"%s","call_type":"phone_call",' ..
		'"agent_id":"agent_bench","agent_version":1,"direction":"outbound",' ..
		'"from_number":"+14155550100","to_number":"+14155550123",' ..
		'"metadata":{"bench":"%s"},"start_timestamp":%.0f', call_id, run_id, t0)
	if ev == "call_started" then
		call = call .. ',"call_status":"ongoing"'
	else
		call = call .. fmt(',"call_status":"ended","end_timestamp":%.0f,' ..
			'"duration_ms":94000,"disconnection_reason":"user_hangup",' ..
			'"transcript":"%s","recording_url":"https://example.invalid/' ..
			'%s.wav"', t0 + 94000, TRANSCRIPT, call_id)
	end
	if ev == "call_analyzed" then
		call = call .. ',"call_analysis":{"call_summary":"The user booked ' ..
			'a site visit for Thursday at 10.","user_sentiment":"Positive",' ..
			'"call_successful":true,"in_voicemail":false}'
	end
	return fmt('{"event":"%s","call":{%s}}', ev, call)
end

local TWILIO_STEPS = {"initiated", "ringing", "in-progress", "completed"}

local function twilio_params(n)
	local seq = n % 4
	-- CA + 32 hex: start time (11), thread (3), counter (18).
	local sid = "CA" .. run_id .. tohex(tid, 3) .. rep("0", 10) ..
		tohex(math.floor(n / 4), 8)
	local p = {
		AccountSid = "AC00000000000000000000000000bench", ApiVersion = "2010-04-01",
		CallSid = sid, CallStatus = TWILIO_STEPS[seq + 1],
		CallbackSource = "call-progress-events", Called = "+14155550123",
		Caller = "+14155550100", Direction = "outbound-api",
		From = "+14155550100", To = "+14155550123",
		SequenceNumber = tostring(seq),
		Timestamp = os.date("!%a, %d %b %Y %H:%M:%S +0000"),
		-- Sent empty, and signed: a verifier that drops them fails.
		ToCity = "", ToState = "", ToZip = "", ToCountry = "US",
		FromCity = "", FromState = "", FromZip = "", FromCountry = "US",
	}
	if seq == 3 then
		p.CallDuration, p.Duration = "94", "2"
	end
	return p
end

-- A completed-recording callback as Twilio posts it, for a call of its
-- own (the 'f' after the thread keeps its CallSid apart from the status
-- stream's).
local function twilio_recording_params(n)
	local hexid = run_id .. tohex(tid, 3) .. "f" .. rep("0", 9) ..
		tohex(n, 8)
	local acc = "AC00000000000000000000000000bench"
	return {
		AccountSid = acc, CallSid = "CA" .. hexid,
		RecordingSid = "RE" .. hexid, RecordingStatus = "completed",
		RecordingUrl = rec_base .. "/2010-04-01/Accounts/" .. acc ..
			"/Recordings/RE" .. hexid,
		RecordingDuration = "41", RecordingChannels = "1",
		RecordingSource = "OutboundAPI",
		RecordingStartTime = os.date("!%a, %d %b %Y %H:%M:%S +0000"),
		ErrorCode = "0",
	}
end

local function twilio_request(p, path)
	local names = {}
	for k in pairs(p) do
		names[#names + 1] = k
	end
	table.sort(names)
	local signed, form = {public_url, path}, {}
	for _, k in ipairs(names) do
		signed[#signed + 1] = k .. p[k]
		form[#form + 1] = urlencode(k) .. "=" .. urlencode(p[k])
	end
	local sig = base64(hmac(sha1, key, table.concat(signed)))
	return table.concat(form, "&"), {
		["Content-Type"] = "application/x-www-form-urlencoded",
		["X-Twilio-Signature"] = sig,
		["I-Twilio-Idempotency-Token"] = p.CallSid .. "-" ..
			(p.SequenceNumber or p.RecordingSid),
	}
end

function request()
	local n = counter
	counter = counter + 1
	if provider == "retell" then
		local body = retell_body(n)
		local v = tostring(now_ms())
		return wrk.format("POST", path, {
			["Content-Type"] = "application/json",
			["x-retell-signature"] = "v=" .. v .. ",d=" ..
				hex(hmac(sha256, key, body .. v)),
		}, body)
	end
	local p, at = nil, path
	if rec_every > 0 and n % rec_every == rec_every - 1 then
		p, at = twilio_recording_params(rec_n), rec_path
		rec_n = rec_n + 1
	else
		p = twilio_params(status_n)
		status_n = status_n + 1
	end
	local body, headers = twilio_request(p, at)
	return wrk.format("POST", at, headers, body)
end
