/*
 * callixo/transcription.h - the contract of a transcription plugin (kind
 * CX_KIND_TRANSCRIPTION). Since ABI 1.1.
 *
 * When a call ends with a recording but its provider gave no transcript
 * (Twilio), the core asks the first running transcription plugin, by
 * request/reply on the plugin's instance name:
 *
 *    CX_SVC_TRANSCRIBE {"v":1, "call_id":"call_...",
 *        "path":"<a plaintext copy of the recording, readable by the
 *                 plugin, removed by the core after the reply>",
 *        "content_type":"audio/wav", "language":"en"?,
 *        "credentials":{"api_key":"..."}?  (the account's vault entry
 *            for this plugin's instance name, when it has one; else use
 *            the plugin settings)}
 *      -> {"transcript":{"text":"...", "utterances":[{"speaker":"0",
 *             "text":"...", "start_ms":0, "end_ms":1200}]},
 *          "summary":"..." | null, "request_id":"..."}
 *      CX_EINVAL: the provider refused the audio (no retry);
 *      CX_EIO / CX_EBUSY / CX_ETIMEDOUT: try again later.
 *
 * The core waits up to CX_TRANSCRIBE_TIMEOUT_MS for the answer, on a
 * worker of its own, so the plugin may do the HTTP request inline.
 */
#ifndef CALLIXO_TRANSCRIPTION_H
#define CALLIXO_TRANSCRIPTION_H

#ifdef __cplusplus
extern "C" {
#endif

#define CX_SVC_TRANSCRIBE "transcription.transcribe"
#define CX_TRANSCRIBE_TIMEOUT_MS 120000

#ifdef __cplusplus
}
#endif
#endif
