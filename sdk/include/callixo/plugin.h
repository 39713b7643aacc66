/*
 * callixo/plugin.h - the plugin descriptor.
 *
 * A plugin is a shared object exporting exactly one data symbol,
 * `cx_plugin_entry`, of type cx_plugin. Define it with CX_PLUGIN_DEFINE.
 * The loader opens the object with local symbol scope and checks the
 * magic, the ABI major (equal to the host's), the ABI minor (not above the
 * host's) and the size before it touches any other field or calls any
 * function. Fields are only ever appended; the core reads a field only if
 * `size` covers it.
 *
 * Lifecycle: init -> start -> [reconfigure]* -> stop -> fini. State is a
 * zeroed block of `state_size` bytes allocated by the core, so a plugin
 * needs no globals and may run as several instances.
 */
#ifndef CALLIXO_PLUGIN_H
#define CALLIXO_PLUGIN_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <callixo/error.h>
#include <callixo/host.h>
#include <callixo/settings.h>
#include <callixo/version.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum cx_plugin_kind {
	CX_KIND_GENERIC = 0,
	CX_KIND_TELEPHONY,
	CX_KIND_TRANSCRIPTION,
	CX_KIND_STORAGE,
	CX_KIND_BLOB,
	CX_KIND_SESSION,
	CX_KIND_PAYMENT,
	CX_KIND_POLICY,
	CX_KIND_COUNT
} cx_plugin_kind;

typedef struct cx_plugin {
	/* Checked first, before anything else is read. */
	uint32_t magic;     /* CX_PLUGIN_MAGIC */
	uint16_t abi_major; /* CX_ABI_MAJOR at build time */
	uint16_t abi_minor; /* CX_ABI_MINOR at build time */
	uint32_t size;      /* sizeof(cx_plugin) at build time */

	cx_plugin_kind kind;
	const char *name;    /* default instance name, e.g. "twilio" */
	const char *version; /* the plugin's own version, e.g. "1.2.0" */
	const char *summary; /* one line for `callixoctl plugins` */

	/* Declared settings, terminated by CX_SETTINGS_END. May be NULL. */
	const cx_setting *settings;
	/* Bytes of zeroed state the core allocates per instance. */
	size_t state_size;

	/* Optional cross-field check, run before init and before every
	 * reload is applied. Write a message into err on failure. */
	cx_err (*validate)(const json_t *settings, char *err, size_t errlen);

	/* Required. `settings` is borrowed and stays valid until fini or the
	 * next reconfigure. Return CX_EDECLINE when the plugin cannot run
	 * here but the system is safe without it. */
	cx_err (*init)(void *state, const cx_host *host, const json_t *settings);
	/* Optional: begin work (open listeners, start timers). */
	cx_err (*start)(void *state);
	/* Optional: apply new settings in place. Without it, a settings
	 * change restarts the instance. */
	cx_err (*reconfigure)(void *state, const json_t *settings);
	/* Optional: stop taking work; the core drops subscriptions, timers
	 * and routes right after. */
	void (*stop)(void *state);
	/* Optional: release everything init allocated. */
	void (*fini)(void *state);

	/* Kind-specific operations (e.g. storage), or NULL. */
	const void *kind_ops;
} cx_plugin;

#define CX_PLUGIN_ENTRY_SYMBOL "cx_plugin_entry"

/* Defines the plugin's descriptor. Use designated initializers:
 *   CX_PLUGIN_DEFINE(.kind = CX_KIND_GENERIC, .name = "hello", ...);
 */
#define CX_PLUGIN_DEFINE(...)                                           \
	__attribute__((visibility("default"))) extern const cx_plugin      \
	    cx_plugin_entry;                                                \
	const cx_plugin cx_plugin_entry = {.magic = CX_PLUGIN_MAGIC,        \
	    .abi_major = CX_ABI_MAJOR,                                      \
	    .abi_minor = CX_ABI_MINOR,                                      \
	    .size = (uint32_t) sizeof(cx_plugin),                           \
	    __VA_ARGS__}

/* Name of a kind as written in the config ("telephony"), or NULL. */
static inline const char *
cx_plugin_kind_name(cx_plugin_kind k)
{
	static const char *const names[CX_KIND_COUNT] = {"generic",
	    "telephony", "transcription", "storage", "blob", "session",
	    "payment", "policy"};
	return ((int) k >= 0 && k < CX_KIND_COUNT ? names[k] : NULL);
}

#ifdef __cplusplus
}
#endif
#endif
