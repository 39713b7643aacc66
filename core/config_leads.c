/*
 * config_leads.c - the `leads:` section: phone normalization and CSV
 * imports.
 *
 *   leads:
 *     default_country: US            # ISO 3166 alpha-2, for numbers
 *                                    # written without +<country code>
 *     phone_zones: phone-zones.tsv    # E.164 prefix -> IANA time zone
 *     import_max_bytes: 209715200    # largest CSV upload (200 MiB)
 *     import_sync_max_bytes: 1048576 # larger uploads run as a job
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_int.h"
#include "confutil.h"
#include "phone.h"

#define MIB (1024LL * 1024)

void
cxi_cfg_leads(cxi_cctx *cc, cxi_config *cfg, const cxi_ynode *leads)
{
	static const char *const keys[] = {"default_country", "phone_zones",
	    "import_max_bytes", "import_sync_max_bytes", NULL};
	long long v;
	char *country = NULL;

	snprintf(cfg->leads_default_country,
	    sizeof(cfg->leads_default_country), "US");
	cfg->leads_import_max = (size_t) (200 * MIB);
	cfg->leads_import_sync_max = (size_t) MIB;
	int have = cxi_cfg_map(cc, leads, "leads");
	if (have > 0) {
		cxi_cfg_keys(cc, leads, keys, "in leads");
		if (cxi_cfg_str(cc, leads, "default_country", &country) == 1) {
			const cxi_ynode *n = cxi_ynode_get(leads,
			    "default_country");
			if (!cxi_phone_region_ok(country)) {
				CXI_CERR(cc, n->line, n->col, "leads."
				    "default_country: '%s' is not a country "
				    "code (ISO 3166 alpha-2, such as US or "
				    "DE)", country);
			} else {
				for (int i = 0; i < 2; i++) {
					char ch = country[i];
					cfg->leads_default_country[i] =
					    ch >= 'a' && ch <= 'z' ?
					    (char) (ch - 'a' + 'A') : ch;
				}
				cfg->leads_default_country[2] = '\0';
			}
			free(country);
		}
		cxi_cfg_path(cc, leads, "phone_zones", &cfg->leads_phone_zones);
		/* 1 KiB .. 4 GiB: the upload is held in memory once. */
		if (cxi_cfg_int(cc, leads, "import_max_bytes", 1024,
		        4096 * MIB, &v) == 1) {
			cfg->leads_import_max = (size_t) v;
		}
		if (cxi_cfg_int(cc, leads, "import_sync_max_bytes", 0,
		        4096 * MIB, &v) == 1) {
			cfg->leads_import_sync_max = (size_t) v;
		}
		if (cfg->leads_import_sync_max > cfg->leads_import_max) {
			const cxi_ynode *n = cxi_ynode_get(leads,
			    "import_sync_max_bytes");
			if (n == NULL) {
				n = leads;
			}
			CXI_CERR(cc, n->line, n->col, "leads."
			    "import_sync_max_bytes must not be larger than "
			    "leads.import_max_bytes");
		}
	}
	if (cfg->leads_phone_zones == NULL) {
		cfg->leads_zones_default = true;
		cfg->leads_phone_zones = cxi_path_join(cc->dir,
		    "phone-zones.tsv");
		if (cfg->leads_phone_zones == NULL) {
			CXI_CERR(cc, 0, 0, "out of memory");
		}
	}
}
