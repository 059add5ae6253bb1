/* portico.h - the embedding API. A program (main.c is one) creates a gateway,
 * loads a configuration, runs it, and may reload or stop it from any thread.
 *
 *   pt_gateway_t *gw = pt_gateway_new();
 *   if (pt_gateway_load(gw, "gateway.yaml", stderr) == 0) pt_gateway_run(gw);
 *   pt_gateway_free(gw);
 */
#ifndef PORTICO_H
#define PORTICO_H

#include <stdio.h>

typedef struct pt_gateway_s pt_gateway_t;

const char *pt_version(void);

/* Validates a configuration; prints every error and warning to out.
 * Returns the number of errors (0: valid). */
int pt_check(const char *config_path, FILE *out);

/* Asks the gateway running with this configuration (through its admin
 * listener) to reload; prints its answer. Returns 0 when the reload took effect. */
int pt_reload_running(const char *config_path, FILE *out);

pt_gateway_t *pt_gateway_new(void);
/* Loads the first configuration. Errors go to `errors`. Returns 0 or -1. */
int pt_gateway_load(pt_gateway_t *gw, const char *config_path, FILE *errors);
/* Opens the listeners and serves until pt_gateway_stop or, when
 * handle_signals is set, SIGTERM/SIGINT (graceful drain) and SIGHUP (reload).
 * Sets SIGPIPE to SIG_IGN for the whole process (a client that hangs up must
 * not kill it; libuv writes with write()).
 * Returns 0 after a clean stop, -1 when the gateway could not start. */
int pt_gateway_run(pt_gateway_t *gw, int handle_signals);
/* Thread-safe. Builds a new generation from the same file; on any error the
 * running one keeps serving. Returns 0 or -1 (errors printed to `errors`). */
int pt_gateway_reload(pt_gateway_t *gw, FILE *errors);
/* Thread-safe. Stops accepting, lets in-flight requests finish (bounded by
 * timeouts.drain), then makes pt_gateway_run return. */
void pt_gateway_stop(pt_gateway_t *gw);
void pt_gateway_free(pt_gateway_t *gw);

#endif
