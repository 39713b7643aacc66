/*
 * ctl_account.c - `callixoctl account create` and `account import`.
 *
 * The password of a new account is read from stdin, never from the
 * command line, where other users see it in the process list and the
 * shell keeps it in its history.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "admin.h"
#include "ctl_account.h"

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_NOT_RUNNING 3
/* Creating hashes a password; an import may write many rows. */
#define TIMEOUT_MS 60000
#define PW_MAX 1024

static int
usage(const char *msg)
{
	fprintf(stderr, "callixoctl: %s\nusage: callixoctl account create "
	    "[--staff] --email E --name N [--company C] < password\n"
	    "       callixoctl account import FILE.jsonl\n"
	    "       callixoctl account disable EMAIL\n", msg);
	return (EXIT_USAGE);
}

/* Sends `cmd`; prints failures; *res the result on success. */
static int
request(const char *sock, int timeout_ms, const char *cmd, json_t *args,
    json_t **reply)
{
	char why[512];
	int rv = cxi_admin_request(sock, cmd, args, timeout_ms < 0 ?
	    TIMEOUT_MS : timeout_ms, reply, why, sizeof(why));
	if (rv != 0) {
		fprintf(stderr, "callixoctl: %s\n", why);
		return (rv == CXI_ADMIN_NOT_RUNNING ? EXIT_NOT_RUNNING :
		    EXIT_FAILED);
	}
	if (!json_is_true(json_object_get(*reply, "ok"))) {
		fprintf(stderr, "callixoctl: account: %s\n",
		    json_string_value(json_object_get(*reply, "error")));
		json_decref(*reply);
		*reply = NULL;
		return (EXIT_FAILED);
	}
	return (EXIT_OK);
}

/* One line of stdin without its line end, into pw; false when empty. */
static bool
read_password(char *pw, size_t size)
{
	if (fgets(pw, (int) size, stdin) == NULL) {
		return (false);
	}
	size_t n = strlen(pw);
	if (n == size - 1 && pw[n - 1] != '\n') {
		return (false); /* longer than any password we accept */
	}
	while (n > 0 && (pw[n - 1] == '\n' || pw[n - 1] == '\r')) {
		pw[--n] = '\0';
	}
	return (n > 0);
}

static int
create(const char *sock, int timeout_ms, int as_json, int nargs, char **av)
{
	const char *email = NULL, *name = NULL, *company = NULL;
	bool staff = false;
	char pw[PW_MAX + 2];
	for (int i = 2; i < nargs; i++) {
		const char **dst = strcmp(av[i], "--email") == 0 ? &email :
		    strcmp(av[i], "--name") == 0 ? &name :
		    strcmp(av[i], "--company") == 0 ? &company : NULL;
		if (strcmp(av[i], "--staff") == 0) {
			staff = true;
		} else if (dst != NULL && i + 1 < nargs) {
			*dst = av[++i];
		} else {
			return (usage("account create: unknown or incomplete "
			    "option"));
		}
	}
	if (email == NULL || name == NULL) {
		return (usage("account create needs --email and --name"));
	}
	if (!read_password(pw, sizeof(pw))) {
		return (usage("account create: give the password on stdin "
		    "(one line)"));
	}
	json_t *reply = NULL;
	json_t *args = json_pack("{s:s, s:s, s:s, s:s?, s:b}", "email", email,
	    "name", name, "password", pw, "company", company, "staff", staff);
	explicit_bzero(pw, sizeof(pw));
	if (args == NULL) {
		return (usage("account create: arguments must be UTF-8"));
	}
	int code = request(sock, timeout_ms, "account-create", args, &reply);
	/* The request copy held the password too. */
	json_t *p = json_object_get(args, "password");
	if (p != NULL) {
		explicit_bzero((char *) json_string_value(p),
		    json_string_length(p));
	}
	json_decref(args);
	if (code != EXIT_OK) {
		return (code);
	}
	const json_t *r = json_object_get(reply, "result");
	const char *uri = json_string_value(json_object_get(r, "otpauth_uri"));
	if (as_json) {
		code = json_dumpf(r, stdout, JSON_INDENT(2)) == 0 &&
		    fputc('\n', stdout) != EOF ? EXIT_OK : EXIT_FAILED;
	} else {
		printf("created %s account %s (%s)\n",
		    json_string_value(json_object_get(r, "role")),
		    json_string_value(json_object_get(r, "id")), email);
		if (uri != NULL) {
			printf("otpauth URI: %s\n"
			    "Staff must use TOTP: add this to an authenticator "
			    "app; the first login\nneeds a code from it "
			    "(\"totp_code\") and returns the recovery codes.\n",
			    uri);
		}
	}
	json_decref(reply);
	return (code);
}

static void
print_lines(const json_t *list, const char *what)
{
	size_t i;
	json_t *e;
	json_array_foreach (list, i, e) {
		printf("line %" JSON_INTEGER_FORMAT ": %s: %s\n",
		    json_integer_value(json_object_get(e, "line")), what,
		    json_string_value(json_object_get(e, "reason")));
	}
}

static int
import(const char *sock, int timeout_ms, int as_json, const char *file)
{
	/* The daemon has its own working directory. */
	char *abs = realpath(file, NULL);
	if (abs == NULL) {
		fprintf(stderr, "callixoctl: %s: %s\n", file, strerror(errno));
		return (EXIT_FAILED);
	}
	json_t *reply = NULL, *args = json_pack("{s:s}", "file", abs);
	free(abs);
	if (args == NULL) {
		return (usage("account import: path is not valid UTF-8"));
	}
	int code = request(sock, timeout_ms, "account-import", args, &reply);
	json_decref(args);
	if (code != EXIT_OK) {
		return (code);
	}
	const json_t *r = json_object_get(reply, "result");
	const json_t *sk = json_object_get(r, "skipped");
	const json_t *inv = json_object_get(r, "invalid");
	if (as_json) {
		code = json_dumpf(r, stdout, JSON_INDENT(2)) == 0 &&
		    fputc('\n', stdout) != EOF ? EXIT_OK : EXIT_FAILED;
	} else {
		print_lines(sk, "skipped");
		print_lines(inv, "invalid");
		printf("imported %" JSON_INTEGER_FORMAT ", skipped %zu, "
		    "invalid %zu\n",
		    json_integer_value(json_object_get(r, "imported")),
		    json_array_size(sk), json_array_size(inv));
	}
	/* Invalid lines fail the command so a script notices them. */
	if (code == EXIT_OK && json_array_size(inv) > 0) {
		code = EXIT_FAILED;
	}
	json_decref(reply);
	return (code);
}

int
cxi_ctl_account(const char *sock, int timeout_ms, int as_json, int nargs,
    char **av)
{
	if (nargs >= 2 && strcmp(av[1], "create") == 0) {
		return (create(sock, timeout_ms, as_json, nargs, av));
	}
	if (nargs == 3 && strcmp(av[1], "import") == 0) {
		return (import(sock, timeout_ms, as_json, av[2]));
	}
	if (nargs == 3 && strcmp(av[1], "disable") == 0) {
		json_t *args = json_pack("{s:s}", "email", av[2]), *reply = NULL;
		if (args == NULL) {
			return (usage("account disable: email is not valid UTF-8"));
		}
		int code = request(sock, timeout_ms, "account-disable", args,
		    &reply);
		json_decref(args);
		if (code == EXIT_OK) {
			const json_t *res = json_object_get(reply, "result");
			printf("disabled %s; %lld sessions ended\n",
			    json_string_value(json_object_get(res, "id")),
			    (long long) json_integer_value(json_object_get(res,
			        "sessions_ended")));
		}
		json_decref(reply);
		return (code);
	}
	return (usage("wrong arguments for \"account\""));
}
