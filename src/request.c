/* request.c - one request through the gateway (see conn.h): dispatch (route,
 * subscription, backend), the policy pipeline when the request has one, the
 * exchange with the backend, the response to the client, the access log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "plan.h"
#include "tls_context.h"

static const pt_exchange_handler_t exchange_handler;

/* ---- requests ----------------------------------------------------------- */

#define SPARE_REQUESTS 256           /* per worker */
#define SPARE_BUFFER_MAX (64 * 1024) /* a request that grew bigger buffers is not kept */

/* Requests are reused per worker with their header and URL buffers: the hot
 * path then allocates nothing for a request that fits what came before. */
static pt_request_t *request_alloc(pt_worker_t *w) {
  pt_request_t *r = w->spare_requests;
  if (!r) return calloc(1, sizeof *r);
  w->spare_requests = r->next_spare;
  w->nspare--;
  pt_headers_t headers = r->headers;
  pt_buf_t url = r->url;
  memset(r, 0, sizeof *r);
  pt_headers_reset(&headers);
  url.len = 0;
  r->headers = headers;
  r->url = url;
  return r;
}

static void request_release(pt_worker_t *w, pt_request_t *r) {
  if (w->nspare < SPARE_REQUESTS && r->headers.store.cap <= SPARE_BUFFER_MAX && r->url.cap <= SPARE_BUFFER_MAX) {
    r->next_spare = w->spare_requests;
    w->spare_requests = r;
    w->nspare++;
    return;
  }
  pt_headers_free(&r->headers);
  pt_buf_free(&r->url);
  free(r);
}

void pt__request_pool_free(pt_worker_t *w) {
  while (w->spare_requests) {
    pt_request_t *r = w->spare_requests;
    w->spare_requests = r->next_spare;
    pt_headers_free(&r->headers);
    pt_buf_free(&r->url);
    free(r);
  }
  w->nspare = 0;
}

pt_request_t *pt__request_new(pt_conn_t *c) {
  pt_request_t *r = request_alloc(c->w);
  if (!r) return NULL;
  r->gen = pt__gateway_current(c->w->gw);
  r->started = uv_hrtime();
  uv_timeval64_t tv;
  if (uv_gettimeofday(&tv) == 0) r->start_us = tv.tv_sec * 1000000 + tv.tv_usec;
  r->backend_ms = -1;
  r->certificate = -1;
  r->keep_alive = 1;
  c->req = r;
  c->idle_ms = r->gen->config->timeouts.idle;
  c->header_ms = r->gen->config->timeouts.header_read;
  r->id = ++c->w->requests;
  atomic_store_explicit(&c->w->generation, r->gen->number, memory_order_relaxed);
  atomic_fetch_add_explicit(&r->gen->in_flight, 1, memory_order_relaxed);
  return r;
}

static void request_log(pt_conn_t *c, pt_request_t *r) {
  size_t plen = r->url.len;
  const char *q = r->url.base ? memchr(r->url.base, '?', r->url.len) : NULL;
  if (q) plen = (size_t)(q - r->url.base);
  pt_access_t a = {
      .request_id = r->id,
      .worker = c->w->index,
      .method = llhttp_method_name(c->parser.method),
      .path = r->url.base,
      .path_len = plen,
      .client_ip = c->client_ip,
      .api = r->api ? r->api->id : NULL,
      .operation = r->d.route.operation ? r->d.route.operation->id : NULL,
      .backend = r->backend ? r->backend->cfg->id : r->d.origin ? r->d.origin->origin : NULL,
      .reason = r->reason,
      .message = r->detail,
      .traces = r->traces,
      .policy = r->policy ? "lua" : r->flags.plan ? "plan" : NULL,
      .status = r->status,
      .bytes_in = r->bytes_in,
      .bytes_out = r->bytes_out,
      .total_ms = (double)(uv_hrtime() - r->started) / 1e6,
      .backend_ms = r->backend_ms,
      .start_us = r->start_us,
  };
  pt_accesslog_write(&c->w->log, &a);
}

void pt__request_free(pt_conn_t *c) {
  pt_request_t *r = c->req;
  if (!r) return;
  if (r->x) {
    pt_exchange_abort(r->x);
    r->x = NULL;
    if (!r->reason) r->reason = "ClientConnectionFailure";
  }
  if (r->status || r->bytes_in) request_log(c, r);
  pt_callout_cancel(r->callout);
  pt_policy_free(r->run);
  pt_dispatch_free(&r->d);
  pt_buf_free(&r->body);
  pt_buf_free(&r->resp_body);
  pt_headers_free(&r->resp_headers);
  free(r->detail);
  free(r->policy_reason);
  free(r->traces);
  atomic_fetch_sub_explicit(&r->gen->in_flight, 1, memory_order_relaxed);
  pt_generation_unref(r->gen);
  request_release(c->w, r);
  c->req = NULL;
}

/* A response the gateway makes itself, with APIM's JSON error body. */
void pt__respond_error(pt_conn_t *c, int status, const char *reason, const char *message) {
  pt_request_t *r = c->req;
  if (!r && !(r = pt__request_new(c))) {
    pt__conn_close(c);
    return;
  }
  if (r->response_started) { /* too late for a status: cut the response short */
    r->reason = reason;
    pt__conn_close(c);
    return;
  }
  /* Unread body, or a head we refused as malformed: where the next request
   * would start is not to be trusted. */
  if ((!r->message_done && r->has_body) || status == 400 || status == 405 || status == 501) r->keep_alive = 0;
  char body[512];
  int n = snprintf(body, sizeof body, "{\"statusCode\": %d, \"message\": \"%s\"}", status, message);
  if (n < 0 || n >= (int)sizeof body) n = (int)strlen(body);
  pt_buf_t *o = &c->out.pending;
  size_t before = o->len;
  pt_buf_printf(o, "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n",
                status, pt_http_status_text(status), n,
                r->keep_alive ? "" : "Connection: close\r\n");
  if (c->parser.method != HTTP_HEAD) pt_buf_append(o, body, (size_t)n);
  r->bytes_out += o->len - before;
  r->status = status;
  r->reason = reason;
  r->response_started = r->response_done = 1;
}

static int is_idempotent(int m) {
  return m == HTTP_GET || m == HTTP_HEAD || m == HTTP_OPTIONS || m == HTTP_TRACE || m == HTTP_PUT ||
         m == HTTP_DELETE;
}

static void dispatch_input(pt_conn_t *c, pt_dispatch_in_t *in) {
  pt_request_t *r = c->req;
  llhttp_t *p = &c->parser;
  *in = (pt_dispatch_in_t){
      .method = llhttp_method_name(p->method),
      .http_minor = p->http_minor,
      .url = r->url.base ? r->url.base : "", .url_len = r->url.len,
      .headers = &r->headers,
      .client_ip = c->client_ip,
      .proto = c->https ? "https" : "http",
      .chunked = r->chunked_in,
      .has_length = (p->flags & F_CONTENT_LENGTH) != 0, .content_length = p->content_length,
  };
}

static int expects_continue(pt_conn_t *c) {
  pt_request_t *r = c->req;
  int e = pt_headers_find(&r->headers, "expect", 0);
  return r->has_body && !r->message_done && e >= 0 && c->parser.http_minor == 1 &&
         pt_http_list_has(pt_header_value(&r->headers, e), r->headers.items[e].value_len, "100-continue");
}

/* The TLS client context for an https origin: the backend's own, or the gateway's default. */
static pt_tls_ctx_t *origin_tls(const pt_request_t *r) {
  if (strcmp(r->d.connect->scheme, "https") != 0) return NULL;
  return pt_tls_set_client(r->gen->tls, r->d.backend ? (int)(r->d.backend - r->gen->backends) : -1, r->certificate);
}

/* Starts the exchange with the head in r->d; `body` (may be NULL) replaces the
 * client's body; timeout_ms (0: the gateway's) bounds the wait for the response. */
static void start_exchange(pt_conn_t *c, const pt_buf_t *body, uint64_t timeout_ms) {
  pt_request_t *r = c->req;
  const pt_config_t *cfg = r->gen->config;
  r->backend = r->d.backend;
  pt_exchange_params_t xp = {
      .origin = r->d.connect,
      .origin_key = r->d.connect->origin,
      .head = &r->d.head,
      .has_body = body ? body->len > 0 : r->has_body,
      .head_request = c->parser.method == HTTP_HEAD,
      .idempotent = is_idempotent(c->parser.method),
      .in_process = r->d.self != NULL,
      .tls = origin_tls(r),
      .connect_timeout_ms = cfg->timeouts.backend_connect,
      .response_timeout_ms = timeout_ms ? timeout_ms : cfg->timeouts.backend,
  };
  if (pt_exchange_start(c->w, &xp, &exchange_handler, c, &r->x) < 0)
    return pt__respond_error(c, 500, "InternalError", "Out of memory");
  if (body && r->x) {
    pt_exchange_write(r->x, body->base, body->len);
    pt_exchange_end_body(r->x);
    r->replace_body = 1; /* whatever the client still sends is dropped */
  }
  if (r->x && !body && expects_continue(c)) pt_buf_appends(&c->out.pending, "HTTP/1.1 100 Continue\r\n\r\n");
}

/* ---- policies ------------------------------------------------------------ */

static pt_lua_t *worker_lua(pt_conn_t *c) { return pt_generation_lua(c->req->gen, c->w->index); }

static const char *product_of(const pt_dispatch_t *d) {
  const pt_subscription_cfg_t *s = d->subscription;
  return s && s->scope == PT_SCOPE_PRODUCT ? s->scope_id : NULL;
}

static void apply_step(pt_conn_t *c, pt_policy_result_t *res);
static void write_body(pt_conn_t *c, const char *at, size_t len);

/* Secret named values never reach the log, even inside an error message. */
static void scrub_secrets(const pt_config_t *c, char *s) {
  for (int i = 0; s && i < c->nnamed_values; i++) {
    const pt_named_value_cfg_t *nv = &c->named_values[i];
    size_t n = nv->secret && nv->value ? strlen(nv->value) : 0;
    if (n < 4) continue; /* too short to tell from ordinary text */
    for (char *p = n ? strstr(s, nv->value) : NULL; p; p = strstr(p + 3, nv->value)) {
      memcpy(p, "***", 3);
      memmove(p + 3, p + n, strlen(p + n) + 1);
    }
  }
}

static void keep_log_fields(pt_request_t *r, pt_policy_result_t *res) {
  if (res->error_reason && !r->policy_reason) {
    r->policy_reason = res->error_reason, res->error_reason = NULL;
    r->reason = r->policy_reason;
    if (!r->detail) r->detail = res->error_message, res->error_message = NULL;
    scrub_secrets(r->gen->config, r->detail);
  }
  if (res->traces && !r->traces) r->traces = res->traces, res->traces = NULL;
}

/* A response made by policies (return-response, mock-response, on-error). */
static void respond_from_policy(pt_conn_t *c, pt_policy_result_t *res, const char *body, size_t len) {
  pt_request_t *r = c->req;
  if (r->response_started) return pt__conn_close(c);
  if (!r->message_done && r->has_body && !r->replace_body) r->keep_alive = 0;
  if (c->w->draining) r->keep_alive = 0;
  pt_buf_t *o = &c->out.pending;
  size_t before = o->len;
  int status = res->status ? res->status : 200;
  pt_http_policy_response_head(o, c->parser.http_minor, status, res->reason, &res->headers, r->gen->via, len,
                               r->keep_alive);
  if (c->parser.method != HTTP_HEAD) pt_buf_append(o, body, len);
  r->bytes_out += o->len - before;
  r->status = status;
  r->response_started = r->response_done = 1;
  keep_log_fields(r, res);
}

static void forward_from_policy(pt_conn_t *c, pt_policy_result_t *res) {
  pt_request_t *r = c->req;
  if (r->buffer_request && !r->message_done && !res->has_body) { /* the body is sent whole: wait for it */
    r->pending_forward = res;
    return;
  }
  const pt_buf_t *body = res->has_body ? &res->body : r->buffer_request ? &r->body : NULL;
  pt_forward_override_t ov = {
      .method = res->method, .backend_id = res->backend_id, .base_url = res->base_url,
      .rest = res->path, .query = res->query, .headers = &res->headers,
      .body_length = body ? (int64_t)body->len : -1,
  };
  pt_dispatch_in_t in;
  dispatch_input(c, &in);
  pt_dispatch_free(&r->d);
  if (pt_dispatch_forward(r->gen, &in, &r->d, &ov) < 0) return pt__respond_error(c, 500, "InternalError", "Out of memory");
  if (r->d.status) { /* a backend the policies chose cannot be called: on-error decides */
    r->reason = r->d.reason;
    free(r->detail);
    r->detail = strdup(r->d.message);
    pt_policy_resume_error(r->run, r->d.reason, r->d.message, &res);
    return apply_step(c, res);
  }
  r->last_forward = res->last && !r->flags.response_body;
  r->certificate = res->certificate;
  start_exchange(c, body, res->timeout_ms);
}

/* The calls or the pause the coroutine waited for are over: resume it. */
static void on_callout(void *data, const pt_call_result_t *results, int n) {
  pt_conn_t *c = data;
  pt_request_t *r = c->req;
  pt_policy_result_t *res;
  r->callout = NULL;
  if (results) pt_policy_resume_calls(r->run, results, n, &res);
  else pt_policy_resume_sleep(r->run, &res);
  apply_step(c, res);
  pt__conn_advance(c);
}

/* A new forward after a response or an error (retry): the old answer is dropped. */
static void forget_response(pt_request_t *r) {
  if (r->x) pt_exchange_abort(r->x);
  r->x = NULL;
  r->buffer_response = r->discard_response = 0;
  r->resp_body.len = 0;
  pt_headers_reset(&r->resp_headers);
  free(r->policy_reason), free(r->detail);
  r->policy_reason = r->detail = NULL;
  r->reason = NULL;
}

/* Outbound lets the backend's body through: the head the policies made, then the body. */
static void respond_streamed(pt_conn_t *c, pt_policy_result_t *res) {
  pt_request_t *r = c->req;
  int status = res->status ? res->status : r->status;
  size_t before = c->out.pending.len;
  pt_http_forward_response_head(&c->out.pending, c->parser.http_minor, status, res->reason, &res->headers,
                                r->gen->via, r->framing, r->keep_alive);
  r->bytes_out += c->out.pending.len - before;
  r->status = status;
  r->response_started = 1;
  keep_log_fields(r, res);
  if (r->resp_body.len) write_body(c, r->resp_body.base, r->resp_body.len); /* held while outbound waited */
  r->resp_body.len = 0;
  if (r->x) pt_exchange_resume(r->x); /* it waited while outbound made calls */
}

/* Carries out what the coroutine asked for. */
static void apply_step(pt_conn_t *c, pt_policy_result_t *res) {
  pt_request_t *r = c->req;
  if (res->step == PT_POLICY_RESPOND && res->streamed && r->x && !r->buffer_response)
    return respond_streamed(c, res);
  if (res->step == PT_POLICY_SLEEP && r->x) forget_response(r); /* retry: the answer is dropped */
  if (res->step == PT_POLICY_SEND && r->x) pt_exchange_pause(r->x); /* outbound calls: the answer waits */
  if (res->step == PT_POLICY_SEND || res->step == PT_POLICY_SLEEP) {
    if (r->has_body && !r->message_done) r->buffer_request = 1; /* keep the body for the forward to come */
    r->callout = res->step == PT_POLICY_SEND
                     ? pt_callout_start(c->w, r->gen, res->calls, res->ncalls, res->any, on_callout, c)
                     : pt_callout_sleep(c->w, res->sleep_ms, on_callout, c);
    if (!r->callout) pt__respond_error(c, 500, "InternalError", "Out of memory");
    return;
  }
  if (res->step == PT_POLICY_FORWARD && !r->response_started) {
    forget_response(r);
    return forward_from_policy(c, res);
  }
  if (res->step == PT_POLICY_FORWARD) { /* the client already has a response: it cannot change */
    r->reason = "InternalError";
    return pt__conn_close(c);
  }
  if (res->streamed && r->buffer_response) return respond_from_policy(c, res, r->resp_body.base, r->resp_body.len);
  respond_from_policy(c, res, res->has_body ? res->body.base : "", res->has_body ? res->body.len : 0);
}

/* ---- the native plan (plan.h) ------------------------------------------------ */

/* The client message of APIM's default error answer, as pipeline.lua makes it. */
static const char *policy_client_message(const char *reason, const char *message) {
  if (strcmp(reason, "BackendConnectionFailure") == 0) return "Backend connection failure";
  if (strcmp(reason, "Timeout") == 0) return "Backend did not respond in time";
  if (strcmp(reason, "ExpressionValueEvaluationFailure") == 0) return "Internal server error";
  return message ? message : "Internal server error";
}

/* A failed forward of a plan: the answer the Lua path gives when on-error is
 * empty (status 500, APIM's JSON body, through the policy response head). */
static void plan_fail(pt_conn_t *c, const char *reason, const char *message) {
  pt_request_t *r = c->req;
  pt_policy_result_t res = {.status = 500};
  pt_buf_t body = {0};
  const char *m = policy_client_message(reason, message);
  int rc = pt_buf_appends(&body, "{\"statusCode\": 500, \"message\": \"");
  for (const char *p = m; *p && !rc; p++) /* JSON string: the messages are plain text */
    rc = (*p == '"' || *p == '\\') ? pt_buf_printf(&body, "\\%c", *p)
         : (unsigned char)*p < 0x20 ? pt_buf_printf(&body, "\\u%04x", *p) : pt_buf_append(&body, p, 1);
  if (!rc) rc = pt_buf_appends(&body, "\"}");
  if (!rc) rc = pt_headers_name_piece(&res.headers, "Content-Type", 12);
  if (!rc) rc = pt_headers_value_piece(&res.headers, "application/json", 16);
  if (rc) pt__respond_error(c, 500, "InternalError", "Out of memory");
  else respond_from_policy(c, &res, body.base, body.len);
  pt_headers_free(&res.headers);
  pt_buf_free(&body);
  r->reason = reason;
}

/* Runs the plan and forwards through the same dispatch as the Lua path's forward step. */
static void plan_forward(pt_conn_t *c) {
  pt_request_t *r = c->req;
  const pt_route_match_t *m = &r->d.route;
  int has_query = r->d.path_len < r->d.url_len;
  pt_plan_input_t pin = {
      .method = llhttp_method_name(c->parser.method), .headers = &r->headers,
      .query = has_query ? r->d.url + r->d.path_len + 1 : "", .query_len = has_query ? r->d.url_len - r->d.path_len - 1 : 0,
      .params = m->params, .nparams = m->nparams,
      .ip = c->client_ip, .subscription_id = r->d.subscription ? r->d.subscription->id : NULL,
      .store = r->gen->store,
  };
  pt_plan_out_t out;
  if (pt_plan_run(r->flags.plan, &pin, pt_lua_plan_work(worker_lua(c)), &out) < 0)
    return pt__respond_error(c, 500, "InternalError", "Out of memory");
  if (out.status) { /* check-header, a limit: the Lua path's answer without on-error */
    pt_policy_result_t res = {.status = out.status, .headers = *out.answer_headers};
    respond_from_policy(c, &res, out.body, out.body_len);
    r->reason = out.reason;
    free(r->detail);
    r->detail = strdup(out.detail);
    scrub_secrets(r->gen->config, r->detail);
    return;
  }
  pt_forward_override_t ov = { /* no set-backend-service: the API's own backend, as on the Lua path */
      .method = out.method, .backend_id = out.backend_id, .base_url = out.base_url,
      .rest = out.rest, .query = out.query, .headers = out.headers, .body_length = -1,
  };
  pt_dispatch_in_t in;
  dispatch_input(c, &in);
  if (pt_dispatch_forward(r->gen, &in, &r->d, &ov) < 0) return pt__respond_error(c, 500, "InternalError", "Out of memory");
  if (r->d.status) {
    free(r->detail);
    r->detail = strdup(r->d.message);
    return plan_fail(c, r->d.reason, r->d.message);
  }
  start_exchange(c, NULL, 0);
}

static void policy_start(pt_conn_t *c) {
  pt_request_t *r = c->req;
  const pt_route_match_t *m = &r->d.route;
  const char *names[PT_MAX_MATCHED_PARAMS], *values[PT_MAX_MATCHED_PARAMS];
  size_t lens[PT_MAX_MATCHED_PARAMS];
  for (int i = 0; i < m->nparams; i++)
    names[i] = m->params[i].name, values[i] = m->params[i].value, lens[i] = m->params[i].value_len;
  int host = pt_headers_find(&r->headers, "host", 0);
  char id[48];
  snprintf(id, sizeof id, "%d-%llu", c->w->index, (unsigned long long)r->id);
  const pt_subscription_cfg_t *sub = r->d.subscription;
  pt_policy_request_t q = {
      .id = id, .ip = c->client_ip, .method = llhttp_method_name(c->parser.method),
      .scheme = c->https ? "https" : "http", .host = host >= 0 ? pt_header_value(&r->headers, host) : "",
      .path = r->d.url, .path_len = r->d.path_len,
      .rest = r->d.url + m->rest, .rest_len = r->d.path_len - m->rest,
      .query = r->d.path_len < r->d.url_len ? r->d.url + r->d.path_len + 1 : "",
      .query_len = r->d.path_len < r->d.url_len ? r->d.url_len - r->d.path_len - 1 : 0,
      .headers = &r->headers,
      .body = r->body.base, .body_len = r->body.len, .has_body_buffer = r->buffer_request,
      .api = m->api->id, .operation = m->operation ? m->operation->id : NULL, .product = product_of(&r->d),
      .service_url = m->api->service_url_text,
      .subscription_id = sub ? sub->id : NULL, .subscription_key = sub ? sub->primary_key : NULL,
      .subscription_name = sub ? sub->display_name : NULL,
      .param_names = names, .param_values = values, .param_lens = lens, .nparams = m->nparams,
      .timestamp = (double)r->start_us / 1e6,
      .certificate = c->peer,
  };
  pt_policy_result_t *res;
  if (!(r->run = pt_policy_start(worker_lua(c), &q, &res))) return pt__respond_error(c, 500, "InternalError", "Out of memory");
  apply_step(c, res);
}

/* Decides whether policies run for this request (and what they need buffered);
 * -1 when this worker has no policy engine (never skip policies: fail closed). */
static int wants_policies(pt_conn_t *c) {
  pt_request_t *r = c->req;
  if (!r->gen->has_policies) return 0;
  pt_lua_t *L = worker_lua(c);
  const pt_route_match_t *m = &r->d.route;
  if (!L) return -1;
  pt_lua_flags(L, m->api->id, m->operation ? m->operation->id : NULL, product_of(&r->d), &r->flags);
  return r->flags.policies;
}

/* ---- dispatch -------------------------------------------------------------- */

/* Routes and authorizes the head, then runs the policies or forwards directly. */
void pt__request_dispatch(pt_conn_t *c) {
  pt_request_t *r = c->req;
  llhttp_t *p = &c->parser;
  r->keep_alive = llhttp_should_keep_alive(p);
  r->chunked_in = (p->flags & F_CHUNKED) != 0;
  r->has_body = r->chunked_in || ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0);
  pt_dispatch_in_t in;
  dispatch_input(c, &in);
  if (pt_dispatch_route(r->gen, &in, &r->d) < 0) return pt__respond_error(c, 500, "InternalError", "Out of memory");
  r->api = r->d.route.api;
  if (r->d.status) return pt__respond_error(c, r->d.status, r->d.reason, r->d.message);
  int policies = wants_policies(c);
  if (policies < 0) return pt__respond_error(c, 500, "InternalError", "Internal server error");
  if (policies && r->flags.plan) return plan_forward(c);
  if (policies) {
    r->policy = 1;
    if (!(r->flags.request_body && r->has_body)) return policy_start(c);
    r->buffer_request = 1; /* policies read the body: they start when it is complete */
    if (expects_continue(c)) pt_buf_appends(&c->out.pending, "HTTP/1.1 100 Continue\r\n\r\n");
    return;
  }
  if (pt_dispatch_forward(r->gen, &in, &r->d, NULL) < 0) return pt__respond_error(c, 500, "InternalError", "Out of memory");
  if (r->d.status) return pt__respond_error(c, r->d.status, r->d.reason, r->d.message);
  start_exchange(c, NULL, 0);
}

void pt__request_body(pt_conn_t *c, const char *at, size_t len) {
  pt_request_t *r = c->req;
  if (r->buffer_request && !r->x) {
    if (pt_buf_append(&r->body, at, len)) pt__respond_error(c, 500, "InternalError", "Out of memory");
    return;
  }
  if (!r->x || r->replace_body) return; /* answered, or the body was replaced: discard */
  if (r->chunked_in) {
    char size[24];
    int n = snprintf(size, sizeof size, "%zx\r\n", len); /* once per body piece, not per request */
    pt_exchange_write(r->x, size, (size_t)n);
  }
  pt_exchange_write(r->x, at, len);
  if (r->chunked_in) pt_exchange_write(r->x, "\r\n", 2);
  if (pt_exchange_full(r->x)) c->block |= BLOCK_UPSTREAM;
}

void pt__request_body_done(pt_conn_t *c) {
  pt_request_t *r = c->req;
  if (r->buffer_request && !r->run && !r->response_started) return policy_start(c);
  if (r->pending_forward) {
    pt_policy_result_t *res = r->pending_forward;
    r->pending_forward = NULL;
    return forward_from_policy(c, res);
  }
  if (!r->x || r->replace_body) return;
  if (r->chunked_in) pt_exchange_write(r->x, "0\r\n\r\n", 5);
  pt_exchange_end_body(r->x);
}

/* ---- responses from the backend ------------------------------------------ */

static pt_conn_t *exchange_conn(pt_exchange_t *x) { return pt_exchange_data(x); }

/* The backend's head with policies: outbound decides what the client gets. */
static void outbound_head(pt_conn_t *c, int status, const pt_headers_t *h, pt_framing_t framing) {
  pt_request_t *r = c->req;
  r->response_started = 0; /* nothing was written yet */
  if (r->flags.response_body) { /* outbound reads the body: keep the head until it is complete */
    r->buffer_response = 1;
    r->resp_status = status;
    for (int i = 0; i < h->count; i++) {
      pt_headers_name_piece(&r->resp_headers, pt_header_name(h, i), h->items[i].name_len);
      pt_headers_value_piece(&r->resp_headers, pt_header_value(h, i), h->items[i].value_len);
    }
    return;
  }
  pt_policy_result_t *res;
  pt_policy_resume(r->run, status, NULL, h, NULL, 0, 0, &res);
  if (res->step == PT_POLICY_RESPOND && !res->streamed) {
    apply_step(c, res);
    r->response_done = 0; /* done when the backend's body has been read and dropped */
    r->discard_response = 1;
    return;
  }
  apply_step(c, res); /* streamed: the head now; or a retry, a call, a pause */
}

static void x_on_head(pt_exchange_t *x, int status, const pt_headers_t *h, pt_framing_t framing) {
  pt_conn_t *c = exchange_conn(x);
  pt_request_t *r = c->req;
  int minor = c->parser.http_minor;
  if (framing == PT_FRAME_CHUNKED || framing == PT_FRAME_CLOSE)
    framing = minor ? PT_FRAME_CHUNKED : PT_FRAME_CLOSE;
  if (framing == PT_FRAME_CLOSE || c->w->draining) r->keep_alive = 0;
  r->framing = framing;
  r->status = status;
  r->response_started = 1;
  if (r->backend) {
    int ra = pt_headers_find(h, "retry-after", 0);
    pt_circuit_report(r->backend, uv_hrtime() / 1000000, status, NULL,
                      ra >= 0 ? pt_retry_after_ms(pt_header_value(h, ra), h->items[ra].value_len) : 0);
  }
  if (r->policy && !r->last_forward) return outbound_head(c, status, h, framing);
  size_t before = c->out.pending.len;
  pt_http_forward_response_head(&c->out.pending, minor, status, NULL, h, r->gen->via, framing, r->keep_alive);
  r->bytes_out += c->out.pending.len - before;
}

/* Body bytes to the client, framed as its response is. */
static void write_body(pt_conn_t *c, const char *at, size_t len) {
  pt_request_t *r = c->req;
  pt_buf_t *o = &c->out.pending;
  if (r->framing == PT_FRAME_CHUNKED) pt_buf_hex(o, len), pt_buf_append(o, "\r\n", 2);
  pt_buf_append(o, at, len);
  if (r->framing == PT_FRAME_CHUNKED) pt_buf_append(o, "\r\n", 2);
  r->bytes_out += len;
}

static void x_on_body(pt_exchange_t *x, const char *at, size_t len) {
  pt_conn_t *c = exchange_conn(x);
  pt_request_t *r = c->req;
  /* outbound has not decided yet (it waits for a call): hold what arrives meanwhile */
  int held = r->policy && !r->response_started && !r->discard_response;
  if (r->buffer_response || held) {
    if (r->resp_body.len + len > r->gen->config->limits.max_body_bytes || pt_buf_append(&r->resp_body, at, len)) {
      r->buffer_response = 0; /* too big for outbound: fail the request */
      r->reason = "ResponseTooLarge";
      pt__conn_close(c);
    }
    return;
  }
  if (r->discard_response) return;
  write_body(c, at, len);
}

static void x_on_flush(pt_exchange_t *x) {
  pt_conn_t *c = exchange_conn(x);
  if (pt_writeq_flush(&c->out) < 0) {
    pt__conn_close(c);
    return;
  }
  if (c->req && c->req->x && pt_writeq_full(&c->out)) { /* the client reads slower than the backend sends */
    pt_exchange_pause(x);
    c->req->waiting_client = 1;
    pt__conn_timer(c, TIMER_SEND, c->idle_ms);
  }
}

static void x_on_end(pt_exchange_t *x) {
  pt_conn_t *c = exchange_conn(x);
  pt_request_t *r = c->req;
  r->backend_ms = pt_exchange_backend_ms(x);
  r->x = NULL;
  if (r->buffer_response) {
    pt_policy_result_t *res;
    pt_policy_resume(r->run, r->resp_status, NULL, &r->resp_headers, r->resp_body.base, r->resp_body.len, 1, &res);
    apply_step(c, res);
  } else if (r->framing == PT_FRAME_CHUNKED && !r->discard_response) {
    pt_buf_append(&c->out.pending, "0\r\n\r\n", 5);
  }
  r->response_done = 1;
  if (!r->message_done) r->keep_alive = 0; /* answered before the body ended: stop here */
  if (r->framing == PT_FRAME_CLOSE) r->keep_alive = 0;
  pt__conn_advance(c);
}

/* Clients learn what failed, not where: backend addresses stay in the log. */
static const char *client_message(const char *reason, int status) {
  if (reason == pt_reason_timeout) return "Backend did not respond in time";
  if (reason == pt_reason_invalid_response) return "Backend sent an invalid response";
  return status == 502 ? "Backend connection lost" : "Backend connection failure";
}

static void x_on_error(pt_exchange_t *x, int status, const char *reason, const char *detail) {
  pt_conn_t *c = exchange_conn(x);
  pt_request_t *r = c->req;
  r->backend_ms = pt_exchange_backend_ms(x);
  r->x = NULL;
  if (r->backend && !r->response_started) pt_circuit_report(r->backend, uv_hrtime() / 1000000, 0, reason, 0);
  free(r->detail);
  r->detail = strdup(detail);
  c->block &= ~BLOCK_UPSTREAM;
  if (r->policy && !r->response_started) { /* on-error decides */
    pt_policy_result_t *res;
    r->reason = reason;
    pt_policy_resume_error(r->run, reason, client_message(reason, status), &res);
    apply_step(c, res);
  } else if (r->flags.plan && !r->response_started) { /* as the Lua path without on-error */
    plan_fail(c, reason, client_message(reason, status));
  } else {
    pt__respond_error(c, status, reason, client_message(reason, status));
  }
  pt__conn_advance(c);
}

static void x_on_writable(pt_exchange_t *x) {
  pt_conn_t *c = exchange_conn(x);
  if (!(c->block & BLOCK_UPSTREAM)) return;
  c->block &= ~BLOCK_UPSTREAM;
  pt__conn_update_reading(c);
}

static const pt_exchange_handler_t exchange_handler = {
    x_on_head, x_on_body, x_on_end, x_on_error, x_on_flush, x_on_writable,
};

