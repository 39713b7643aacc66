/* A descriptor symbol with the wrong magic number. */
#include <callixo/callixo.h>

__attribute__((visibility("default"))) extern const cx_plugin cx_plugin_entry;
const cx_plugin cx_plugin_entry = {
    .magic = 0xdeadbeefu,
    .abi_major = CX_ABI_MAJOR,
    .size = sizeof(cx_plugin),
    .name = "bad_magic",
};
