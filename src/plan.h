/* plan.h - the native policy plan: a policy pipeline whose every element is
 * declarative, lowered by lua/portico/plan.lua (once per generation and
 * request kind) to a flat list of ops that C runs per request without
 * entering Lua (see lua/portico/ENGINE.md, "The native plan"). Running a plan
 * only computes what the request forwarded to the backend looks like (method,
 * path, query, headers, backend); dispatch.c composes the head from that as
 * it does for policies run in Lua. Anything a plan cannot express stays on
 * the Lua path: a plan is built only when it is provably the same. */
#ifndef PT_PLAN_H
#define PT_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "router.h"

typedef struct pt_plan_str_s {
  char *s; /* NUL-terminated, owned by the plan */
  size_t len;
} pt_plan_str_t;

typedef enum {
  PT_PLAN_HEADER_SET,    /* replace the first line of name (no case), drop the others, or add one */
  PT_PLAN_HEADER_DELETE,
  PT_PLAN_HEADER_LINES,  /* one new line per value */
  PT_PLAN_HEADER_JOIN,   /* ",value" onto the last line of name, or a new line */
  PT_PLAN_QUERY_SET,     /* drop the parameters called name (decoded), add the raw pieces */
  PT_PLAN_QUERY_DELETE,
  PT_PLAN_QUERY_ADD,
  PT_PLAN_REWRITE,       /* rewrite-uri with a literal template */
  PT_PLAN_BACKEND_ID,
  PT_PLAN_BASE_URL,
  PT_PLAN_METHOD,
  PT_PLAN_JUMP_UNLESS,   /* skip `skip` ops when the condition is false */
  PT_PLAN_JUMP,
  PT_PLAN_CHECK_HEADER,  /* check-header: the request fails unless name is there with allowed values */
  PT_PLAN_COUNT,         /* rate-limit(-by-key): counts in the gateway's store, 429 past the limit */
} pt_plan_op_kind_t;

typedef enum {
  PT_COND_HEADER_EQ, /* Headers.GetValueOrDefault(name, default) == value */
  PT_COND_HAS,       /* Headers.ContainsKey(name) */
  PT_COND_METHOD_EQ, /* Request.Method == value */
  PT_COND_CONST,
  PT_COND_NOT,
  PT_COND_AND,
  PT_COND_OR,
} pt_plan_cond_kind_t;

#define PT_PLAN_COND_MAX 64 /* items of one condition (postfix) */

typedef struct pt_plan_cond_s {
  pt_plan_cond_kind_t kind;
  pt_plan_str_t name, value, def;
  int has_default; /* 0: the default is C# null (never equal) */
  int truth;       /* PT_COND_CONST */
} pt_plan_cond_t;

/* A piece of a rewrite-uri template: literal text, or a matched parameter's name. */
typedef struct pt_plan_piece_s {
  int param;
  pt_plan_str_t text;
} pt_plan_piece_t;

typedef struct pt_plan_pieces_s {
  pt_plan_piece_t *items;
  int n;
} pt_plan_pieces_t;

typedef struct pt_plan_qpair_s {
  pt_plan_pieces_t k, v;
  int eq; /* "k=v" rather than "k" */
} pt_plan_qpair_t;

/* A piece of a native value (a counter key): literal text, a request header
 * (its lines joined with ","; the default, or "" for C# null, when absent),
 * the client's address, the subscription id ("" without one, or the 500 of
 * an expression reading context.Subscription.Id when required). */
typedef enum { PT_VAL_TEXT, PT_VAL_HEADER, PT_VAL_IP, PT_VAL_SUB } pt_plan_vkind_t;

typedef struct pt_plan_vpiece_s {
  pt_plan_vkind_t kind;
  pt_plan_str_t text; /* the text, or the header name */
  pt_plan_str_t def;  /* PT_VAL_HEADER: s NULL for null */
  int required;       /* PT_VAL_SUB: without a subscription the request fails (500) */
} pt_plan_vpiece_t;

typedef struct pt_plan_op_s {
  pt_plan_op_kind_t kind;
  int if_absent; /* exists-action skip */
  int rank;      /* set-backend-service: the scope rank (global 1 .. operation 4) */
  int skip;      /* jumps */
  int copy;      /* rewrite: copy-unmatched-params */
  pt_plan_str_t name; /* header or query name, backend id, base URL, method */
  pt_plan_str_t *values;
  int nvalues;
  pt_plan_cond_t *cond;
  int ncond;
  pt_plan_pieces_t path;
  pt_plan_qpair_t *query;
  int nquery;
  /* check-header: name, values (lowered when icase), status, body (APIM's JSON) */
  int icase, status;
  pt_plan_str_t body;
  /* count: key, window (ms), calls, inc; peek: check only (refused when count >= calls);
   * need_sub: only with a subscription; name: the Retry-After header's name */
  pt_plan_vpiece_t *key;
  int nkey, peek, need_sub;
  int64_t window, calls, inc;
} pt_plan_op_t;

typedef struct pt_plan_s {
  pt_plan_op_t *ops;
  int nops;
  pt_plan_str_t *consumed; /* query names the operation's URL template consumes */
  int nconsumed;
} pt_plan_t;

void pt_plan_free(pt_plan_t *p);

/* A query parameter while a plan runs: offsets into the work area's scratch. */
typedef struct pt_plan_param_s {
  size_t name_off, name_len, raw_off, raw_len;
} pt_plan_param_t;

/* Buffers a run works in, kept from one request to the next (one per worker
 * Lua state): a run is synchronous and dispatch copies what it produced. */
typedef struct pt_plan_work_s {
  pt_headers_t headers;
  pt_buf_t path, query, scratch;
  pt_plan_param_t *params, *next;
  int nparams, nnext, cap;
  pt_buf_t key, detail, body; /* a counter key; a failed request's log message and body */
  pt_headers_t answer;  /* the headers of a failed request's answer */
} pt_plan_work_t;

void pt_plan_work_free(pt_plan_work_t *w);

typedef struct pt_plan_input_s {
  const char *method;
  const pt_headers_t *headers;
  const char *query; size_t query_len; /* without '?' */
  const pt_matched_param_t *params;    /* not decoded, as policies see them */
  int nparams;
  const char *ip, *subscription_id;    /* subscription_id: NULL without one */
  struct pt_store_s *store;            /* the gateway's counters (store.h) */
} pt_plan_input_t;

/* What the request forwarded looks like; NULL keeps the client's. */
typedef struct pt_plan_out_s {
  const char *method, *backend_id, *base_url;
  const char *rest;  /* path relative to the backend's base URL */
  const char *query; /* without '?' */
  const pt_headers_t *headers;
  /* status != 0: the request failed (check-header, a limit): answer with status,
   * answer_headers and body instead of forwarding; reason and detail are
   * LastError's Reason and Message (the access log) */
  int status;
  const char *reason, *detail;
  const pt_headers_t *answer_headers;
  const char *body;
  size_t body_len;
} pt_plan_out_t;

/* Runs the plan; the strings in *out live until the next run on w. 0 or UV_ENOMEM. */
int pt_plan_run(const pt_plan_t *p, const pt_plan_input_t *in, pt_plan_work_t *w, pt_plan_out_t *out);

#endif
