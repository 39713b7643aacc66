/*
 * conformance_int.h - shared by the conformance suite's files.
 */
#ifndef CXT_CONFORMANCE_INT_H
#define CXT_CONFORMANCE_INT_H

#include <stdint.h>
#include <callixo/callixo.h>

typedef struct cxt_ctx {
	const cx_storage_ops *ops;
	void *state;
	const char *blob_type; /* the dialect's binary column type */
	cx_db_error err;       /* of the last operation, for messages */
} cxt_ctx;

/* Checks `cond`; on failure prints where and why, and jumps to `out`
 * with rv = -1. Every check function has `int rv` and an `out:` label. */
#define CK(cond, ...)                                                     \
	do {                                                              \
		if (!(cond)) {                                            \
			cxt_fail(t, __FILE__, __LINE__, __VA_ARGS__);     \
			rv = -1;                                          \
			goto out;                                         \
		}                                                         \
	} while (0)

void cxt_fail(cxt_ctx *t, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int64_t cxt_now_ms(void);
/* exec with t->err as the error slot. */
cx_err cxt_x(cxt_ctx *t, cx_db_conn *c, const char *sql,
    const cx_db_value *p, size_t n, cx_db_rows **rows, int64_t *changes);
int64_t cxt_scalar(cxt_ctx *t, cx_db_conn *c, const char *sql,
    const cx_db_value *p, size_t n);

/* concurrency.c */
int cxt_check_concurrency(cxt_ctx *t);
int cxt_check_cleanup(cxt_ctx *t);

#endif
