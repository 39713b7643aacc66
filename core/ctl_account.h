/*
 * ctl_account.h - `callixoctl account ...` (see accounts_admin.h for the
 * daemon's side and its reply shapes).
 */
#ifndef CXI_CTL_ACCOUNT_H
#define CXI_CTL_ACCOUNT_H

/* Runs `account create|import` (av[0] is "account"); returns the exit
 * status (0 ok, 1 failed, 2 usage, 3 not running). timeout_ms < 0: the
 * default. */
int cxi_ctl_account(const char *sock, int timeout_ms, int as_json, int nargs,
    char **av);

#endif
