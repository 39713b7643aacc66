/*
 * conformance_main.c - runs the driver conformance suite against any
 * storage plugin: conformance_main <plugin.so> [settings-yaml].
 * The PostgreSQL test runs it on a fresh database of its throwaway server.
 */
#include <stdio.h>

#include "conformance.h"

int
main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: conformance_main PLUGIN.so [SETTINGS]\n");
		return (2);
	}
	int fails = cxt_storage_conformance(argv[1], argc > 2 ? argv[2] : NULL);
	if (fails != 0) {
		fprintf(stderr, "conformance: %d failures on %s\n", fails,
		    argv[1]);
		return (1);
	}
	printf("conformance: %s passed\n", argv[1]);
	return (0);
}
