// oracle.js <request.json> - the official twilio npm package as the
// signature oracle for the Twilio plugin's tests. The file holds one
// request or an array of them; the answer (printed as JSON) has one
// result each:
//   {"op":"sign", "token", "url", "params":{name: value | [values]}}
//       -> {"signature": getExpectedTwilioSignature(...)}
//   {"op":"validate", "token", "signature", "url", "params"}
//       -> {"valid": validateRequest(...)}
"use strict";
const fs = require("fs");
const twilio = require("twilio");
const webhooks = require("twilio/lib/webhooks/webhooks");

function one(r) {
  if (r.op === "sign") {
    return {signature: webhooks.getExpectedTwilioSignature(r.token, r.url,
        r.params)};
  }
  if (r.op === "validate") {
    return {valid: twilio.validateRequest(r.token, r.signature, r.url,
        r.params)};
  }
  throw new Error("unknown op " + r.op);
}

const req = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
process.stdout.write(JSON.stringify(Array.isArray(req) ? req.map(one) :
    one(req)) + "\n");
