/*
 * callixo/version.h - the plugin ABI version.
 *
 * The ABI version is not the product version. The major number changes
 * only when an existing struct field or function changes meaning; a host
 * refuses any plugin whose major differs. The minor number grows when
 * fields are appended; a host accepts plugins built against an equal or
 * older minor and reads only the fields their `size` covers.
 */
#ifndef CALLIXO_VERSION_H
#define CALLIXO_VERSION_H

#define CX_ABI_MAJOR 1
#define CX_ABI_MINOR 1

/* "CXPL" in ASCII: the first word of every plugin descriptor. */
#define CX_PLUGIN_MAGIC 0x4358504cu

#endif
