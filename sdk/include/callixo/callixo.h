/*
 * callixo/callixo.h - the whole Callixo plugin SDK.
 *
 * Include this one header to write a plugin. See docs/plugin-guide.md.
 */
#ifndef CALLIXO_CALLIXO_H
#define CALLIXO_CALLIXO_H

#include <callixo/version.h>
#include <callixo/error.h>
#include <callixo/settings.h>
#include <callixo/bus.h>
#include <callixo/http.h>
#include <callixo/host.h>
#include <callixo/plugin.h>
#include <callixo/storage.h>
#include <callixo/blob.h>
#include <callixo/session.h>
#include <callixo/telephony.h>
#include <callixo/transcription.h>

#endif
