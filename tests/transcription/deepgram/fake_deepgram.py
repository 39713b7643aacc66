#!/usr/bin/python3
"""A loopback fake of Deepgram's pre-recorded API (POST /v1/listen).

It follows the documented wire format and is strict about it, so a
request the real API would refuse or misread fails here too:
  - `Authorization: Token <key>` (401 INVALID_AUTH otherwise);
  - only documented query options, booleans spelled true/false,
    summarize=v2 refused with a non-English language (as Deepgram does);
  - the body is the raw audio with its Content-Type and a Content-Length
    (no JSON, no multipart, no chunked upload), and must look like audio,
    else 400 "failed to process audio: corrupt or unsupported data".
A good request gets the documented response: metadata.request_id and
sha256, results.channels[0].alternatives[0].transcript with words,
results.utterances[] (speaker only with diarize) and, with summarize=v2,
results.summary {result, short}.

Failure modes are chosen by a path prefix, so a test picks one through the
plugin's api_base: /mode/<m>/v1/listen with m one of
  403 429 500 502 slow close malformed noresults badutt sumfail

  fake_deepgram.py KEY     prints "PORT <n>" once listening on 127.0.0.1;
                           exits when its stdin closes (the test is gone).
GET /__fake/last answers what the last /v1/listen request looked like.
"""
import hashlib
import json
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

KEY = sys.argv[1]
BOOL_OPTS = {"smart_format", "punctuate", "diarize", "utterances",
             "paragraphs", "multichannel", "detect_language", "numerals",
             "profanity_filter", "sentiment", "topics", "intents",
             "detect_entities", "mip_opt_out"}
STR_OPTS = {"model", "language", "summarize", "tag", "extra", "keywords",
            "keyterm", "redact", "utt_split", "version", "encoding",
            "diarize_model", "callback", "callback_method"}

# Four turns of a call, as fractions of the audio's length.
SCRIPT = [
    (0, 0.00, 0.24, "Hi, this is Anna from Brightline Solar. Am I speaking "
                    "with Mr. Okafor?"),
    (1, 0.27, 0.45, "Yes, speaking. What is this about?"),
    (0, 0.48, 0.78, "You asked for a quote for panels on your roof last "
                    "week, and I can offer a site visit on Thursday at "
                    "10 a.m. or on Friday afternoon, whichever suits you "
                    "better."),
    (1, 0.80, 1.00, "Thursday at 10 works. Please send the confirmation "
                    "to my email and call me if anything changes before "
                    "then."),
]
SUMMARY = ("Anna from Brightline Solar calls Mr. Okafor about his quote "
           "request and books a site visit for Thursday at 10 a.m.; he "
           "asks for an email confirmation.")
LAST = {}
LOCK = threading.Lock()


def audio_seconds(body, ctype):
    """Length of a PCM WAV; other formats get a nominal 10 s."""
    if body[:4] == b"RIFF" and body[8:12] == b"WAVE":
        pos = 12
        rate = 0
        while pos + 8 <= len(body):
            cid, size = body[pos:pos + 4], struct.unpack("<I",
                                                         body[pos + 4:pos + 8])[0]
            if cid == b"fmt " and size >= 16:
                rate = struct.unpack("<I", body[pos + 16:pos + 20])[0]
            if cid == b"data" and rate:
                return min(size, len(body) - pos - 8) / rate
            pos += 8 + size + (size & 1)
        return None
    if body[:3] == b"ID3" or body[:2] in (b"\xff\xfb", b"\xff\xf3") or \
            body[:4] in (b"OggS", b"fLaC"):
        return 10.0
    return None


def response(body, q, seconds, mode):
    rid = str(uuid.uuid4())
    diarize = q.get("diarize") == "true"
    words_all, utts = [], []
    for i, (spk, f0, f1, text) in enumerate(SCRIPT):
        t0, t1 = round(f0 * seconds, 3), round(f1 * seconds, 3)
        toks = text.split()
        step = (t1 - t0) / len(toks)
        words = []
        for k, tok in enumerate(toks):
            w = {"word": tok.strip(".,?").lower(),
                 "start": round(t0 + k * step, 3),
                 "end": round(t0 + (k + 1) * step, 3),
                 "confidence": 0.97, "punctuated_word": tok}
            if diarize:
                w["speaker"] = spk
                w["speaker_confidence"] = 0.88
            words.append(w)
        words_all += words
        u = {"start": t0, "end": t1, "confidence": 0.95, "channel": 0,
             "transcript": text, "words": words,
             "id": str(uuid.uuid5(uuid.NAMESPACE_OID, rid + str(i)))}
        if diarize:
            u["speaker"] = spk
        utts.append(u)
    transcript = " ".join(t for _, _, _, t in SCRIPT)
    results = {"channels": [{"alternatives": [{
        "transcript": transcript, "confidence": 0.96, "words": words_all}]}]}
    if q.get("utterances") == "true":
        results["utterances"] = utts
    if q.get("summarize") in ("v2", "true"):
        nwords = len(transcript.split())
        # Documented: under 50 words the input comes back as the summary.
        short = SUMMARY if nwords >= 50 else transcript
        results["summary"] = {"result": "success", "short": short}
        if mode == "sumfail":
            results["summary"] = {"result": "failure", "short": ""}
    if mode == "badutt" and "utterances" in results:
        del results["utterances"][1]["end"]
    meta = {"transaction_key": "deprecated", "request_id": rid,
            "sha256": hashlib.sha256(body).hexdigest(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "duration": seconds, "channels": 1,
            "models": [str(uuid.uuid5(uuid.NAMESPACE_OID, q["model"]))],
            "model_info": {}}
    if "summary" in results:
        meta["summary_info"] = {"model_uuid": str(uuid.uuid4()),
                                "input_tokens": 95, "output_tokens": 31}
    out = {"metadata": meta, "results": results}
    if mode == "noresults":
        del out["results"]
    return rid, out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def send(self, status, obj=None, text=None, ctype="application/json"):
        data = text.encode() if text is not None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("dg-request-id", obj.get("request_id", "")
                         if isinstance(obj, dict) else "")
        self.end_headers()
        self.wfile.write(data)

    def legacy(self, status, code, msg):
        self.send(status, {"err_code": code, "err_msg": msg,
                           "request_id": str(uuid.uuid4())})

    def do_GET(self):
        if self.path == "/__fake/last":
            with LOCK:
                self.send(200, dict(LAST))
        else:
            self.legacy(404, "NOT_FOUND", "Not found")

    def do_POST(self):
        url = urlsplit(self.path)
        mode = "ok"
        path = url.path
        if path.startswith("/mode/"):
            mode, path = path[6:].split("/", 1)[0], "/" + \
                path[6:].split("/", 1)[1]
        te = self.headers.get("Transfer-Encoding")
        clen = self.headers.get("Content-Length")
        if te is not None or clen is None:
            self.close_connection = True
            return self.legacy(411, "Bad Request", "fake: the upload must "
                               "carry a Content-Length, not chunked")
        body = self.rfile.read(int(clen))
        if path != "/v1/listen":
            return self.legacy(404, "NOT_FOUND", "No such route " + path)
        q_multi = parse_qs(url.query, keep_blank_values=True,
                           strict_parsing=bool(url.query))
        q = {k: v[-1] for k, v in q_multi.items()}
        with LOCK:
            LAST.clear()
            LAST.update({"path": path, "query": q, "body_len": len(body),
                         "body_sha256": hashlib.sha256(body).hexdigest(),
                         "content_type": self.headers.get("Content-Type"),
                         "authorization": self.headers.get("Authorization"),
                         "user_agent": self.headers.get("User-Agent")})
        if self.headers.get("Authorization") != "Token " + KEY:
            return self.legacy(401, "INVALID_AUTH", "Invalid credentials.")
        for k, v in q_multi.items():
            if k not in BOOL_OPTS and k not in STR_OPTS:
                return self.send(400, {"category": "INVALID_QUERY_PARAMETER",
                                       "message": "fake: unknown option " + k,
                                       "request_id": str(uuid.uuid4())})
            if len(v) != 1 or (k in BOOL_OPTS and v[0] not in ("true",
                                                                "false")):
                return self.send(400, {"category": "INVALID_QUERY_PARAMETER",
                                       "message": "fake: bad value for " + k,
                                       "request_id": str(uuid.uuid4())})
        lang = q.get("language", "en")
        if q.get("summarize") not in (None, "v2", "true", "false"):
            return self.legacy(400, "Bad Request", "invalid summarize")
        if q.get("summarize") in ("v2", "true") and \
                not (lang == "en" or lang.startswith("en-")):
            return self.legacy(400, "Bad Request", "Summarization is not "
                               "supported for language " + lang)
        ctype = self.headers.get("Content-Type", "")
        if ctype.startswith("application/json") or \
                ctype.startswith("multipart/"):
            return self.legacy(400, "Bad Request", "fake: expected raw "
                               "audio bytes, got " + ctype)
        if mode == "403":
            return self.legacy(403, "INSUFFICIENT_PERMISSIONS", "Project "
                               "does not have access to the requested model")
        if mode == "429":
            return self.legacy(429, "TOO_MANY_REQUESTS", "Too many "
                               "requests. Please try again later")
        if mode == "500":
            return self.send(500, {"category": "INTERNAL_SERVER_ERROR",
                                   "message": "Internal server error",
                                   "details": "upstream worker failed",
                                   "request_id": str(uuid.uuid4())})
        if mode == "502":
            return self.send(502, text="<html><body><h1>502 Bad Gateway"
                             "</h1>\r\n</body></html>", ctype="text/html")
        if mode == "close":
            self.close_connection = True
            self.connection.shutdown(2)
            return None
        if mode == "slow":
            time.sleep(4)
        seconds = audio_seconds(body, ctype)
        if seconds is None:
            return self.legacy(400, "Bad Request", "Bad Request: failed to "
                               "process audio: corrupt or unsupported data")
        if mode == "malformed":
            return self.send(200, text='{"metadata":{"request_id":"'
                             + str(uuid.uuid4()) + '","sha256":')
        rid, out = response(body, q, seconds, mode)
        with LOCK:
            LAST["request_id"] = rid
        return self.send(200, out)


def main():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    # The "close" mode drops connections on purpose: no tracebacks.
    srv.handle_error = lambda request, client_address: None
    print("PORT %d" % srv.server_address[1], flush=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    # Ends with the test: its stdin is a pipe from the test process.
    while sys.stdin.buffer.read(4096):
        pass
    srv.shutdown()


if __name__ == "__main__":
    main()
