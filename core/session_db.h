/*
 * session_db.h - the embedded session store: cx_session_ops over the
 * `sessions` table of the running storage driver.
 *
 * It is the default when no session plugin is enabled. It lives in the
 * core, not in a plugin, because it needs the storage driver, which only
 * the core may call (a plugin's host table is message-shaped, so that it
 * can run in another process). The ops' state is the cxi_manager.
 */
#ifndef CXI_SESSION_DB_H
#define CXI_SESSION_DB_H

#include <callixo/session.h>

extern const cx_session_ops cxi_session_db_ops;

#endif
