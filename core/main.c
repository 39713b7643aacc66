/*
 * main.c - callixod command line.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <callixo/version.h>

#include "daemon.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: callixod [-c FILE] [--check-config] [--describe PLUGIN]\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default "
	    "conf/callixo.yaml)\n"
	    "      --check-config  validate the configuration and exit\n"
	    "      --describe P    print the settings schema of plugin P\n"
	    "                      (a .so path or a name in the plugin dir)\n"
	    "      --version       print the version and plugin ABI\n"
	    "  -h, --help          this text\n"
	    "\n"
	    "Signals: SIGHUP reloads the configuration; SIGTERM or SIGINT\n"
	    "drains requests in flight and stops.\n");
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'k'},
	    {"describe", required_argument, NULL, 'd'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *config = "conf/callixo.yaml";
	const char *describe = NULL;
	int check = 0, c;
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config = optarg;
			break;
		case 'k':
			check = 1;
			break;
		case 'd':
			describe = optarg;
			break;
		case 'V':
			printf("callixod %s (plugin ABI %d.%d)\n", CX_VERSION,
			    CX_ABI_MAJOR, CX_ABI_MINOR);
			return (0);
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "callixod: unexpected argument '%s'\n",
		    argv[optind]);
		usage(stderr);
		return (2);
	}
	if (describe != NULL) {
		return (cxi_daemon_describe(describe));
	}
	if (check) {
		return (cxi_daemon_check_config(config));
	}
	return (cxi_daemon_run(config));
}
