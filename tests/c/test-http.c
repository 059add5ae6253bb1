/* test-http.c - header lists, hop-by-hop removal and forwarding heads (http.c). */
#include <stdlib.h>

#include "check.h"
#include "http.h"

static void add(pt_headers_t *h, const char *name, const char *value) {
  /* in two pieces each, as llhttp delivers fields split across reads */
  size_t n = strlen(name) / 2, v = strlen(value) / 2;
  pt_headers_name_piece(h, name, n);
  pt_headers_name_piece(h, name + n, strlen(name) - n);
  pt_headers_value_piece(h, value, v);
  pt_headers_value_piece(h, value + v, strlen(value) - v);
}

static void test_pieces(void) {
  pt_headers_t h = {0};
  add(&h, "Content-Type", "text/plain");
  add(&h, "X-Empty", "");
  add(&h, "Accept", "*/*");
  CHECK(h.count == 3);
  CHECK_MEM(pt_header_name(&h, 0), h.items[0].name_len, "Content-Type");
  CHECK_MEM(pt_header_value(&h, 0), h.items[0].value_len, "text/plain");
  CHECK(strcmp(pt_header_value(&h, 0), "text/plain") == 0); /* NUL-terminated */
  CHECK(strcmp(pt_header_value(&h, 1), "") == 0);
  CHECK(pt_headers_find(&h, "accept", 0) == 2);
  CHECK(pt_headers_find(&h, "accept", 3) == -1);
  pt_headers_free(&h);
}

static void test_lists(void) {
  CHECK(pt_http_list_has("keep-alive, Close", 17, "close"));
  CHECK(pt_http_list_has(" 100-continue ", 14, "100-continue"));
  CHECK(!pt_http_list_has("closed", 6, "close"));
  CHECK(!pt_http_list_has("", 0, "close"));
}

static void test_forward_request(void) {
  pt_headers_t h = {0};
  add(&h, "Host", "gw.example");
  add(&h, "Connection", "X-Secret, keep-alive");
  add(&h, "X-Secret", "s");
  add(&h, "Keep-Alive", "timeout=5");
  add(&h, "TE", "trailers");
  add(&h, "Upgrade", "h2c");
  add(&h, "Proxy-Connection", "keep-alive");
  add(&h, "Expect", "100-continue");
  add(&h, "X-Forwarded-For", "10.0.0.1");
  add(&h, "Accept", "*/*");
  pt_forward_t f = {.method = "GET", .target = "/v1/a?x=1", .target_len = 9, .authority = "backend:9001",
                    .via = "1.1 edge-1", .client_ip = "127.0.0.1", .proto = "http"};
  pt_buf_t out = {0};
  CHECK(pt_http_forward_request_head(&out, &h, &f) == 0);
  CHECK_MEM(out.base, out.len,
            "GET /v1/a?x=1 HTTP/1.1\r\nHost: backend:9001\r\nAccept: */*\r\n"
            "X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\nX-Forwarded-Proto: http\r\n"
            "X-Forwarded-Host: gw.example\r\nVia: 1.1 edge-1\r\n\r\n");
  pt_buf_free(&out);
  pt_headers_free(&h);
}

static void test_forward_response(void) {
  pt_headers_t h = {0};
  add(&h, "Content-Type", "text/plain");
  add(&h, "Transfer-Encoding", "chunked");
  add(&h, "Connection", "X-Hop");
  add(&h, "X-Hop", "1");
  pt_buf_t out = {0};
  CHECK(pt_http_forward_response_head(&out, 1, 200, NULL, &h, "1.1 edge-1", PT_FRAME_CHUNKED, 1) == 0);
  CHECK_MEM(out.base, out.len,
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nVia: 1.1 edge-1\r\n"
            "Transfer-Encoding: chunked\r\n\r\n");
  out.len = 0;
  CHECK(pt_http_forward_response_head(&out, 0, 404, NULL, &h, "1.1 e", PT_FRAME_CLOSE, 0) == 0);
  CHECK_MEM(out.base, out.len,
            "HTTP/1.0 404 Not Found\r\nContent-Type: text/plain\r\nVia: 1.1 e\r\nConnection: close\r\n\r\n");
  pt_buf_free(&out);
  pt_headers_free(&h);
}

int main(void) {
  test_pieces();
  test_lists();
  test_forward_request();
  test_forward_response();
  CHECK(strcmp(pt_http_status_text(431), "Request Header Fields Too Large") == 0);
  CHECK(strcmp(pt_http_status_text(599), "Server Error") == 0);
  return CHECK_RESULT();
}
