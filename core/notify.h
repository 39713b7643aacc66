/*
 * notify.h - systemd readiness notification (sd_notify protocol).
 *
 * When $NOTIFY_SOCKET is set, sends "READY=1", "STOPPING=1", "RELOADING=1"
 * or "STATUS=..." as one datagram to that AF_UNIX socket (a leading '@'
 * means the abstract namespace). Without it, does nothing. This is the
 * whole protocol; it is small enough not to pull in libsystemd.
 */
#ifndef CXI_NOTIFY_H
#define CXI_NOTIFY_H

/* Returns 0 when sent or not applicable, -1 on a send error. */
int cxi_notify(const char *state);

#endif
