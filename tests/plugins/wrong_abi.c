/* A plugin built for a future ABI major: the loader must refuse it before
 * calling init (which would abort to prove the point). */
#include <stdlib.h>
#include <callixo/callixo.h>

static cx_err
wrong_init(void *state, const cx_host *h, const json_t *s)
{
	(void) state;
	(void) h;
	(void) s;
	abort();
}

__attribute__((visibility("default"))) extern const cx_plugin cx_plugin_entry;
const cx_plugin cx_plugin_entry = {
    .magic = CX_PLUGIN_MAGIC,
    .abi_major = CX_ABI_MAJOR + 1,
    .abi_minor = 0,
    .size = sizeof(cx_plugin),
    .kind = CX_KIND_GENERIC,
    .name = "wrong_abi",
    .init = wrong_init,
};
