/*
 * ctl.c - callixoctl, the command-line client of the admin socket.
 *
 * Requests and the results callixod answers with (the "result" member
 * of {"ok":true,"result":...}; failures are {"ok":false,"error":"..."}):
 *
 *   cmd "status", no args ->
 *     {"version":"0.1.0", "uptime_s":123, "state":"ready"|"degraded"|
 *      "starting", "listen":"http://...", "config":"/path/callixo.yaml",
 *      "plugins":{"running":n,"failed":n,"total":n}, "degraded":bool}
 *   cmd "plugins", no args ->
 *     [{"name":s, "kind":s, "version":s, "state":s, "isolation":s,
 *       "required":bool, "error":s|null}, ...]
 *   cmd "routes", no args ->
 *     [{"method":"GET", "path":"/v1/me", "owner":"core"|"@v1"|plugin}, ...]
 *     (a path ending in "/" serves its whole subtree)
 *   cmd "reload", no args ->
 *     {"applied":bool, "started":[name..], "stopped":[name..],
 *      "reconfigured":[name..], "restarted":[name..], "errors":[msg..]}
 *   cmd "enable" / "disable", args {"name":s} -> {"name":s, "state":s}
 *   cmd "check-config", args {"file": absolute path} ->
 *     {"valid":bool, "errors":[msg..]}
 *   cmd "vault-rotate", no args -> {"rotated":n, "failed":n}
 *
 * The admin socket is -s PATH, else $CALLIXO_ADMIN_SOCKET, else
 * ./var/admin.sock. The config file is deliberately not read: callixoctl
 * must keep working when the config is broken, which is exactly when an
 * operator reaches for it.
 *
 * Exit codes: 0 ok, 1 the command failed, 2 usage error, 3 callixod is
 * not running.
 */
#include "admin.h"
#include "ctl_account.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NOT_RUNNING 3

#define DEFAULT_SOCKET "./var/admin.sock"
#define TIMEOUT_QUICK_MS 5000
/* A reload or a config check loads and starts plugins; give it time. */
#define TIMEOUT_SLOW_MS 60000

static const char *prog = "callixoctl";

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [OPTIONS] COMMAND\n"
	    "\n"
	    "Commands:\n"
	    "  status                 daemon version, uptime, state, plugin "
	    "counts\n"
	    "  plugins                table of loaded plugins\n"
	    "  routes                 HTTP routes served (method, path, "
	    "owner)\n"
	    "  reload                 re-read the config file and apply it "
	    "(like SIGHUP)\n"
	    "  plugin enable NAME     start a plugin (runtime only)\n"
	    "  plugin disable NAME    stop a plugin (runtime only)\n"
	    "  check-config FILE      have the daemon validate FILE with its "
	    "plugins\n"
	    "  migrate status         schema version and pending migrations\n"
	    "  migrate up             apply pending migrations\n"
	    "  account create [--staff] --email E --name N [--company C]\n"
	    "                         create an account; the password is "
	    "read from stdin\n"
	    "  account import FILE    import accounts from a JSONL file\n"
	    "  account disable EMAIL  close an account and end its sessions\n"
	    "  vault rotate           re-encrypt stored credentials under "
	    "the first vault key\n"
	    "\n"
	    "Options:\n"
	    "  -s, --socket PATH      admin socket; default: "
	    "$CALLIXO_ADMIN_SOCKET,\n"
	    "                         else %s (relative to the current "
	    "directory)\n"
	    "  -t, --timeout SECONDS  how long to wait for the daemon "
	    "(default 5, 60 for\n"
	    "                         reload and check-config)\n"
	    "      --json             print the daemon's raw JSON result\n"
	    "  -h, --help             this help\n"
	    "  -V, --version          print the version\n"
	    "\n"
	    "Exit status: 0 ok, 1 command failed, 2 usage error, 3 callixod "
	    "not running.\n",
	    prog, DEFAULT_SOCKET);
}

static int
usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s --help'.\n", prog);
	return (EXIT_USAGE);
}

static const char *
str_or(const json_t *o, const char *key, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, key));
	return (v != NULL ? v : dflt);
}

static void
print_uptime(json_int_t s)
{
	if (s < 0) {
		s = 0;
	}
	json_int_t d = s / 86400, h = (s / 3600) % 24, m = (s / 60) % 60;
	if (d > 0) {
		printf("%" JSON_INTEGER_FORMAT "d ", d);
	}
	if (d > 0 || h > 0) {
		printf("%" JSON_INTEGER_FORMAT "h ", h);
	}
	if (d > 0 || h > 0 || m > 0) {
		printf("%" JSON_INTEGER_FORMAT "m ", m);
	}
	printf("%" JSON_INTEGER_FORMAT "s\n", s % 60);
}

static int
show_status(const json_t *r)
{
	if (!json_is_object(r)) {
		fprintf(stderr, "%s: unexpected status reply\n", prog);
		return (EXIT_FAILED);
	}
	const json_t *pl = json_object_get(r, "plugins");
	printf("callixod %s\n", str_or(r, "version", "?"));
	printf("state:    %s\n", str_or(r, "state", "?"));
	printf("uptime:   ");
	print_uptime(json_integer_value(json_object_get(r, "uptime_s")));
	printf("listen:   %s\n", str_or(r, "listen", "-"));
	printf("config:   %s\n", str_or(r, "config", "-"));
	printf("plugins:  %" JSON_INTEGER_FORMAT " running, %"
	    JSON_INTEGER_FORMAT " failed, %" JSON_INTEGER_FORMAT " total\n",
	    json_integer_value(json_object_get(pl, "running")),
	    json_integer_value(json_object_get(pl, "failed")),
	    json_integer_value(json_object_get(pl, "total")));
	return (EXIT_OK);
}

static int
show_plugins(const json_t *r)
{
	static const char *const cols[] = { "name", "kind", "version",
		"state", "isolation" };
	static const char *const heads[] = { "NAME", "KIND", "VERSION",
		"STATE", "ISOLATION" };
	enum { NCOLS = sizeof(cols) / sizeof(cols[0]) };
	if (!json_is_array(r)) {
		fprintf(stderr, "%s: unexpected plugins reply\n", prog);
		return (EXIT_FAILED);
	}
	int w[NCOLS];
	for (size_t c = 0; c < NCOLS; c++) {
		w[c] = (int)strlen(heads[c]);
	}
	size_t i;
	const json_t *p;
	json_array_foreach(r, i, p) {
		for (size_t c = 0; c < NCOLS; c++) {
			int n = (int)strlen(str_or(p, cols[c], "-"));
			if (n > w[c]) {
				w[c] = n;
			}
		}
	}
	for (size_t c = 0; c < NCOLS; c++) {
		if (c + 1 < NCOLS) {
			printf("%-*s  ", w[c], heads[c]);
		} else {
			printf("%s\n", heads[c]);
		}
	}
	json_array_foreach(r, i, p) {
		for (size_t c = 0; c < NCOLS; c++) {
			const char *v = str_or(p, cols[c], "-");
			if (c + 1 < NCOLS) {
				printf("%-*s  ", w[c], v);
			} else {
				printf("%s\n", v);
			}
		}
	}
	/* Errors are long sentences; they would wreck the table, so they
	 * follow it, one per failed plugin. */
	json_array_foreach(r, i, p) {
		const char *err = json_string_value(json_object_get(p,
		    "error"));
		if (err != NULL) {
			printf("%s: %s\n", str_or(p, "name", "-"), err);
		}
	}
	return (EXIT_OK);
}

static int
show_routes(const json_t *r)
{
	if (!json_is_array(r)) {
		fprintf(stderr, "%s: unexpected routes reply\n", prog);
		return (EXIT_FAILED);
	}
	size_t i;
	const json_t *e;
	/* One route a line, tab separated, so scripts can cut(1) it. */
	json_array_foreach(r, i, e) {
		printf("%s\t%s\t%s\n", str_or(e, "method", "?"),
		    str_or(e, "path", "?"), str_or(e, "owner", "?"));
	}
	return (EXIT_OK);
}

static void
print_names(const char *verb, const json_t *arr, int last)
{
	printf("%s %zu", verb, json_array_size(arr));
	if (json_array_size(arr) > 0) {
		size_t i;
		const json_t *v;
		printf(" (");
		json_array_foreach(arr, i, v) {
			printf("%s%s", i > 0 ? " " : "",
			    json_is_string(v) ? json_string_value(v) : "?");
		}
		printf(")");
	}
	printf(last ? "\n" : ", ");
}

static void
print_errors(FILE *f, const json_t *errs)
{
	size_t i;
	const json_t *e;
	json_array_foreach(errs, i, e) {
		fprintf(f, "  %s\n", json_is_string(e) ? json_string_value(e) :
		    "?");
	}
}

static int
show_reload(const json_t *r)
{
	if (!json_is_object(r) ||
	    !json_is_boolean(json_object_get(r, "applied"))) {
		fprintf(stderr, "%s: unexpected reload reply\n", prog);
		return (EXIT_FAILED);
	}
	const json_t *errs = json_object_get(r, "errors");
	if (!json_is_true(json_object_get(r, "applied"))) {
		fprintf(stderr, "reload rejected, the running configuration "
		    "is unchanged:\n");
		print_errors(stderr, errs);
		return (EXIT_FAILED);
	}
	printf("reloaded: ");
	print_names("started", json_object_get(r, "started"), 0);
	print_names("stopped", json_object_get(r, "stopped"), 0);
	print_names("reconfigured", json_object_get(r, "reconfigured"), 0);
	print_names("restarted", json_object_get(r, "restarted"), 1);
	/* Applied, but some plugin may still have failed to come up. */
	if (json_array_size(errs) > 0) {
		fprintf(stderr, "with errors:\n");
		print_errors(stderr, errs);
		return (EXIT_FAILED);
	}
	return (EXIT_OK);
}

static int
show_toggle(const json_t *r, const char *verb)
{
	if (!json_is_object(r)) {
		fprintf(stderr, "%s: unexpected %s reply\n", prog, verb);
		return (EXIT_FAILED);
	}
	printf("%s %s: now %s (runtime only: not saved to the config file; "
	    "the next reload restores the config)\n", verb,
	    str_or(r, "name", "?"), str_or(r, "state", "?"));
	return (EXIT_OK);
}

static int
show_check(const json_t *r, const char *file)
{
	if (!json_is_object(r) ||
	    !json_is_boolean(json_object_get(r, "valid"))) {
		fprintf(stderr, "%s: unexpected check-config reply\n", prog);
		return (EXIT_FAILED);
	}
	const json_t *errs = json_object_get(r, "errors");
	if (json_is_true(json_object_get(r, "valid"))) {
		printf("%s: configuration is valid\n", file);
		return (EXIT_OK);
	}
	printf("%s: %zu error%s\n", file, json_array_size(errs),
	    json_array_size(errs) == 1 ? "" : "s");
	print_errors(stdout, errs);
	return (EXIT_FAILED);
}

static int
show_migrate(const json_t *r, const char *cmd)
{
	const json_t *st = strcmp(cmd, "migrate-up") == 0 ?
	    json_object_get(r, "status") : r;
	if (!json_is_object(st)) {
		fprintf(stderr, "%s: unexpected %s reply\n", prog, cmd);
		return (EXIT_FAILED);
	}
	if (strcmp(cmd, "migrate-up") == 0) {
		const json_t *done = json_object_get(r, "applied");
		size_t i;
		const json_t *n;
		printf("applied %zu migration%s\n", json_array_size(done),
		    json_array_size(done) == 1 ? "" : "s");
		json_array_foreach (done, i, n) {
			printf("  %s\n", json_string_value(n));
		}
	}
	printf("dialect %s, schema version %lld of %lld, %lld pending\n",
	    str_or(st, "dialect", "?"),
	    (long long) json_integer_value(json_object_get(st, "current")),
	    (long long) json_integer_value(json_object_get(st, "latest")),
	    (long long) json_integer_value(json_object_get(st, "pending")));
	size_t i;
	const json_t *m;
	json_array_foreach (json_object_get(st, "migrations"), i, m) {
		printf("  %04lld %-32s %s\n",
		    (long long) json_integer_value(json_object_get(m, "version")),
		    str_or(m, "name", "?"), str_or(m, "state", "?"));
	}
	const char *problem = json_string_value(json_object_get(st,
	    "problem"));
	if (problem != NULL) {
		printf("problem: %s\n", problem);
		return (EXIT_FAILED);
	}
	return (EXIT_OK);
}

/* Whether a result means the command did what was asked; for --json,
 * where the text renderers (which also decide this) are skipped. */
static int
json_result_code(const char *cmd, const json_t *r)
{
	if (strcmp(cmd, "reload") == 0) {
		return (json_is_true(json_object_get(r, "applied")) &&
		    json_array_size(json_object_get(r, "errors")) == 0 ?
		    EXIT_OK : EXIT_FAILED);
	}
	if (strcmp(cmd, "check-config") == 0) {
		return (json_is_true(json_object_get(r, "valid")) ? EXIT_OK :
		    EXIT_FAILED);
	}
	return (EXIT_OK);
}

int
main(int argc, char **argv)
{
	enum { OPT_JSON = 256 };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *sock = NULL;
	int timeout_ms = -1;
	int as_json = 0;

	/* "+": stop at the command, so "plugin disable -x" is never parsed
	 * as options of ours. */
	int o;
	opterr = 0;
	while ((o = getopt_long(argc, argv, "+s:t:hV", longopts, NULL)) !=
	    -1) {
		switch (o) {
		case 's':
			sock = optarg;
			break;
		case 't': {
			char *end;
			errno = 0;
			long v = strtol(optarg, &end, 10);
			if (errno != 0 || end == optarg || *end != '\0' ||
			    v <= 0 || v > INT_MAX / 1000) {
				return (usage_error("invalid timeout \"%s\"",
				    optarg));
			}
			timeout_ms = (int)v * 1000;
			break;
		}
		case OPT_JSON:
			as_json = 1;
			break;
		case 'h':
			usage(stdout);
			return (EXIT_OK);
		case 'V':
			printf("callixoctl %s\n", cxi_admin_version());
			return (EXIT_OK);
		default:
			return (usage_error("unknown or incomplete option "
			    "\"%s\"", argv[optind - 1]));
		}
	}
	if (sock == NULL) {
		sock = getenv("CALLIXO_ADMIN_SOCKET");
	}
	if (sock == NULL || sock[0] == '\0') {
		sock = DEFAULT_SOCKET;
	}

	int nargs = argc - optind;
	char **av = argv + optind;
	if (nargs < 1) {
		return (usage_error("%s", "missing command"));
	}

	if (strcmp(av[0], "account") == 0) {
		return (cxi_ctl_account(sock, timeout_ms, as_json, nargs, av));
	}
	const char *cmd = NULL;   /* the daemon's command name */
	const char *verb = NULL;  /* for messages: enabled/disabled */
	const char *file = NULL;  /* check-config, as the user typed it */
	json_t *args = NULL;
	int slow = 0;
	if (strcmp(av[0], "status") == 0 && nargs == 1) {
		cmd = "status";
	} else if (strcmp(av[0], "plugins") == 0 && nargs == 1) {
		cmd = "plugins";
	} else if (strcmp(av[0], "routes") == 0 && nargs == 1) {
		cmd = "routes";
	} else if (strcmp(av[0], "reload") == 0 && nargs == 1) {
		cmd = "reload";
		slow = 1;
	} else if (strcmp(av[0], "plugin") == 0 && nargs == 3 &&
	    (strcmp(av[1], "enable") == 0 || strcmp(av[1], "disable") == 0)) {
		cmd = av[1];
		verb = strcmp(cmd, "enable") == 0 ? "enabled" : "disabled";
		args = json_pack("{s:s}", "name", av[2]);
		if (args == NULL) {
			return (usage_error("invalid plugin name \"%s\"",
			    av[2]));
		}
	} else if (strcmp(av[0], "migrate") == 0 && nargs == 2 &&
	    (strcmp(av[1], "status") == 0 || strcmp(av[1], "up") == 0)) {
		cmd = strcmp(av[1], "up") == 0 ? "migrate-up" : "migrate-status";
		slow = 1;
	} else if (strcmp(av[0], "vault") == 0 && nargs == 2 &&
	    strcmp(av[1], "rotate") == 0) {
		cmd = "vault-rotate";
		slow = 1;
	} else if (strcmp(av[0], "check-config") == 0 && nargs == 2) {
		cmd = "check-config";
		file = av[1];
		slow = 1;
		/* The daemon has its own working directory; hand it a path
		 * that means the same file there. */
		char *abs = realpath(file, NULL);
		if (abs == NULL) {
			fprintf(stderr, "%s: %s: %s\n", prog, file,
			    strerror(errno));
			return (EXIT_FAILED);
		}
		args = json_pack("{s:s}", "file", abs);
		free(abs);
		if (args == NULL) {
			fprintf(stderr, "%s: %s: path is not valid UTF-8\n",
			    prog, file);
			return (EXIT_FAILED);
		}
	} else {
		int known = strcmp(av[0], "status") == 0 ||
		    strcmp(av[0], "plugins") == 0 ||
		    strcmp(av[0], "routes") == 0 ||
		    strcmp(av[0], "reload") == 0 ||
		    strcmp(av[0], "plugin") == 0 ||
		    strcmp(av[0], "migrate") == 0 ||
		    strcmp(av[0], "vault") == 0 ||
		    strcmp(av[0], "check-config") == 0;
		return (usage_error(known ? "wrong arguments for \"%s\"" :
		    "unknown command \"%s\"", av[0]));
	}
	if (timeout_ms < 0) {
		timeout_ms = slow ? TIMEOUT_SLOW_MS : TIMEOUT_QUICK_MS;
	}

	char why[512];
	json_t *reply = NULL;
	int rv = cxi_admin_request(sock, cmd, args, timeout_ms, &reply, why,
	    sizeof(why));
	json_decref(args);
	if (rv == CXI_ADMIN_NOT_RUNNING) {
		fprintf(stderr, "%s: %s\n", prog, why);
		if (file != NULL) {
			fprintf(stderr, "%s: to check the file without a "
			    "daemon, run: callixod --check-config -c %s\n",
			    prog, file);
		}
		return (EXIT_NOT_RUNNING);
	}
	if (rv != 0) {
		fprintf(stderr, "%s: %s\n", prog, why);
		return (EXIT_FAILED);
	}
	if (!json_is_true(json_object_get(reply, "ok"))) {
		fprintf(stderr, "%s: %s: %s\n", prog, av[0],
		    json_string_value(json_object_get(reply, "error")));
		json_decref(reply);
		return (EXIT_FAILED);
	}

	const json_t *res = json_object_get(reply, "result");
	int code;
	if (as_json) {
		if (json_dumpf(res, stdout, JSON_INDENT(2) |
		    JSON_ENCODE_ANY) != 0 || fputc('\n', stdout) == EOF) {
			code = EXIT_FAILED;
		} else {
			code = json_result_code(cmd, res);
		}
	} else if (strcmp(cmd, "status") == 0) {
		code = show_status(res);
	} else if (strcmp(cmd, "plugins") == 0) {
		code = show_plugins(res);
	} else if (strcmp(cmd, "routes") == 0) {
		code = show_routes(res);
	} else if (strcmp(cmd, "reload") == 0) {
		code = show_reload(res);
	} else if (verb != NULL) {
		code = show_toggle(res, verb);
	} else if (strncmp(cmd, "migrate-", 8) == 0) {
		code = show_migrate(res, cmd);
	} else if (strcmp(cmd, "vault-rotate") == 0) {
		json_int_t nf = json_integer_value(json_object_get(res,
		    "failed"));
		printf("rotated %lld credentials", (long long)
		    json_integer_value(json_object_get(res, "rotated")));
		if (nf > 0) {
			printf("; %lld could not be decrypted with any vault "
			    "key", (long long) nf);
		}
		printf("\n");
		code = nf > 0 ? EXIT_FAILED : EXIT_OK;
	} else {
		code = show_check(res, file);
	}
	json_decref(reply);
	/* Output going to a closed pipe or a full disk is a failure the
	 * calling script should hear about. */
	if (fflush(stdout) != 0 && code == EXIT_OK) {
		fprintf(stderr, "%s: writing output: %s\n", prog,
		    strerror(errno));
		code = EXIT_FAILED;
	}
	return (code);
}
