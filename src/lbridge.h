/* lbridge.h - the C side of the policy engine (see lua/portico/ENGINE.md).
 * Owns Lua states (one per worker and generation, with a memory cap), the
 * embedded module searcher, the per-request coroutine with its instruction
 * budget, and the conversion of requests and responses between C and Lua.
 * Does no I/O: server.c performs what a coroutine asks for and resumes it. */
#ifndef PT_LBRIDGE_H
#define PT_LBRIDGE_H

#include <stdint.h>

#include "diag.h"
#include "http.h"

struct pt_generation_s;
struct pt_plan_s;
struct pt_plan_work_s;
typedef struct pt_lua_s pt_lua_t;
typedef struct pt_policy_run_s pt_policy_run_t;

#define PT_LUA_MEMORY_LIMIT (64u << 20)  /* bytes per Lua state */
#define PT_LUA_INSTRUCTION_BUDGET 10000000 /* VM instructions per request */

/* Builds a state and compiles every policy of the generation in it.
 * Returns NULL when something does not compile (errors added to d). */
pt_lua_t *pt_lua_new(const struct pt_generation_s *g, pt_diag_t *d);
void pt_lua_free(pt_lua_t *L);
/* Calls fn for every literal set-backend-service base-url ("file:line:col" in where). */
void pt_lua_base_urls(pt_lua_t *L, void (*fn)(void *data, const char *url, const char *where), void *data);

typedef struct pt_policy_flags_s {
  int policies;       /* some scope has a policy for this request */
  int request_body;   /* inbound reads the request body */
  int response_body;  /* outbound reads the response body */
  const struct pt_plan_s *plan; /* the native plan (plan.h): run it instead of Lua; owned by the state */
} pt_policy_flags_t;

void pt_lua_flags(pt_lua_t *L, const char *api, const char *operation, const char *product,
                  pt_policy_flags_t *out);
/* The buffers plans run in, for this state's worker (plan.h). */
struct pt_plan_work_s *pt_lua_plan_work(pt_lua_t *L);

/* What the request looks like to policies (strings are borrowed). */
typedef struct pt_policy_request_s {
  const char *id, *ip, *method, *scheme, *host;
  int port;
  const char *path; size_t path_len;   /* as received, without the query */
  const char *rest; size_t rest_len;   /* after the API prefix */
  const char *query; size_t query_len; /* without '?' */
  const pt_headers_t *headers;
  const char *body; size_t body_len;   /* when the request body was buffered */
  int has_body_buffer;
  const char *api, *operation, *product, *service_url;
  const char *subscription_id, *subscription_key, *subscription_name;
  const char *const *param_names; const char *const *param_values; const size_t *param_lens;
  int nparams;
  double timestamp;
  const struct pt_tls_peer_s *certificate; /* the client's verified certificate (TLS), or NULL */
} pt_policy_request_t;

typedef enum { PT_POLICY_FORWARD, PT_POLICY_RESPOND, PT_POLICY_SEND, PT_POLICY_SLEEP } pt_policy_step_t;

/* One call of send-request / send-one-way-request / wait (PT_POLICY_SEND). */
typedef struct pt_policy_call_s {
  char *method, *url;
  pt_headers_t headers;
  pt_buf_t body;
  int has_body, one_way;
  uint64_t timeout_ms;
} pt_policy_call_t;

/* The answer to one call, for pt_policy_resume_calls. */
typedef struct pt_call_result_s {
  int status;               /* 0: failed (reason, message) */
  const char *reason, *message;
  const pt_headers_t *headers;
  const char *body;
  size_t body_len;
  int one_way;
} pt_call_result_t;

/* What the coroutine asks for next. Owned by the run; valid until the next call on it. */
typedef struct pt_policy_result_s {
  pt_policy_step_t step;
  /* PT_POLICY_FORWARD */
  char *method, *base_url, *backend_id, *path, *query;
  uint64_t timeout_ms; /* 0: the gateway's */
  int certificate;     /* authentication-certificate: index into config->cert_entities, or -1 */
  /* both: headers to send; for RESPOND also the status line */
  pt_headers_t headers;
  int status;
  char *reason;
  pt_buf_t body;
  int has_body;        /* FORWARD: replace the client's body; RESPOND: body is the whole body */
  int streamed;        /* RESPOND: send the backend's body through */
  int last;            /* FORWARD: on success nothing more runs: answer without resuming */
  char *error_reason, *error_message; /* RESPOND: the request went through on-error */
  char *traces;        /* RESPOND: trace records as a JSON array, or NULL */
  pt_policy_call_t *calls; /* SEND: the calls to make, concurrently */
  int ncalls;
  int any;             /* SEND: resume when the first call finishes */
  uint64_t sleep_ms;   /* SLEEP */
} pt_policy_result_t;

/* Starts engine.run(req). Returns the run (NULL on allocation failure) with its first step in *res. */
pt_policy_run_t *pt_policy_start(pt_lua_t *L, const pt_policy_request_t *req, pt_policy_result_t **res);
/* Resumes after a forward with the backend's response head (and body when asked for). */
void pt_policy_resume(pt_policy_run_t *run, int status, const char *reason, const pt_headers_t *h,
                      const char *body, size_t body_len, int has_body, pt_policy_result_t **res);
/* Resumes after a failed forward (APIM LastError.Reason and Message). */
void pt_policy_resume_error(pt_policy_run_t *run, const char *reason, const char *message,
                            pt_policy_result_t **res);
/* Resumes after a SEND with one result per call, in order. */
void pt_policy_resume_calls(pt_policy_run_t *run, const pt_call_result_t *results, int n, pt_policy_result_t **res);
/* Resumes after a SLEEP. */
void pt_policy_resume_sleep(pt_policy_run_t *run, pt_policy_result_t **res);
void pt_policy_free(pt_policy_run_t *run);

#endif
