/*
 * accounts_admin.h - the account commands of the admin socket, behind
 * `callixoctl account create` and `callixoctl account import`
 * (security.md A-6: staff accounts exist only through these).
 *
 *   cmd "account-create", args {"email":s, "name":s, "password":s,
 *     "company":s?, "staff":b?} ->
 *     {"id":s, "email":s, "role":s, "otpauth_uri":s?, "secret":s?}
 *     (staff: a pending TOTP secret, enrolled by the first login)
 *   cmd "account-import", args {"file": absolute path of a JSONL file} ->
 *     {"imported":n, "skipped":[{"line":n,"reason":s}],
 *      "invalid":[{"line":n,"reason":s}]}
 */
#ifndef CXI_ACCOUNTS_ADMIN_H
#define CXI_ACCOUNTS_ADMIN_H

#include <jansson.h>

#include "api.h"
#include "manager.h"

/* A reply for `cmd` (cxi_admin_ok / cxi_admin_fail); `api` may be NULL
 * while the API has not started. */
json_t *cxi_accounts_admin(cxi_api *api, cxi_manager *mgr, const char *cmd,
    const json_t *args);

#endif
