/*
 * daemon.h - callixod's life: start, serve, reload on SIGHUP, drain and
 * stop on SIGTERM/SIGINT.
 */
#ifndef CXI_DAEMON_H
#define CXI_DAEMON_H

/* Runs in the foreground until SIGTERM or SIGINT. Returns the exit code:
 * 0 after a clean stop, 1 when start-up failed. */
int cxi_daemon_run(const char *config_path);

/* Validates a config file, printing every problem as file:line:col:
 * message on stderr. Returns 0 when valid, 1 otherwise. */
int cxi_daemon_check_config(const char *config_path);

/* Prints the settings schema of a plugin (a path or a name in the
 * plugin directory). Returns 0, or 1 when it cannot be loaded. */
int cxi_daemon_describe(const char *plugin);

#endif
