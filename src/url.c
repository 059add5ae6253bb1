/* url.c - absolute http(s) URLs for backends and service URLs (see url.h).
 * Owns the syntax check and the normal form: lowercase scheme and host, the port
 * (explicit or default) and the authority used as the Host header. Does not resolve
 * names and does not percent-decode: the path is kept exactly as written.
 *
 * Error texts are noun phrases ("unknown scheme 'htp' (expected http or https)",
 * "no host ...") so that a caller can write "'<url>' has <err>". They never repeat
 * user info or a query string, which may hold secrets. */
#include "url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define URL_MAX 2000 /* APIM's limit on a backend or service URL */
#define HOST_MAX 255

static int fail(pt_url_t *u, char *err, int errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(pt_url_t *u, char *err, int errlen, const char *fmt, ...) {
  va_list ap;
  if (err && errlen > 0) { /* before freeing: the arguments may point into u */
    va_start(ap, fmt);
    vsnprintf(err, (size_t)errlen, fmt, ap);
    va_end(ap);
  }
  pt_url_free(u);
  return -1;
}

static int is_host_char(int ch) {
  return isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~';
}

/* Reads the scheme up to "://"; returns the length consumed or -1 with err set. */
static int parse_scheme(pt_url_t *u, const char *s, char *err, int errlen) {
  size_t n = 0;
  if (isalpha((unsigned char)s[0]))
    n = strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.");
  if (n == 0 || s[n] != ':')
    return fail(u, err, errlen, "no scheme (expected http://host[:port][/path])");
  if (n == 4 && strncasecmp(s, "http", 4) == 0) {
    strcpy(u->scheme, "http");
    u->default_port = 80;
  } else if (n == 5 && strncasecmp(s, "https", 5) == 0) {
    strcpy(u->scheme, "https");
    u->default_port = 443;
  } else {
    return fail(u, err, errlen, "unknown scheme '%.*s' (expected http or https)",
                n > 32 ? 32 : (int)n, s);
  }
  if (strncmp(s + n, "://", 3) != 0)
    return fail(u, err, errlen, "no '//' after '%s:' (expected %s://host[:port][/path])",
                u->scheme, u->scheme);
  return (int)n + 3;
}

/* Parses host[:port] in [a, end); sets u->host (lowercase) and u->port. */
static int parse_authority(pt_url_t *u, const char *a, const char *end, char *err, int errlen) {
  const char *h = a, *hend, *p;
  char buf[64];
  if (memchr(a, '@', (size_t)(end - a)))
    return fail(u, err, errlen, "user info before '@' (credentials do not belong in a "
                "backend URL; remove them and set credentials with a policy)");
  if (*a == '[') {
    const char *rb = memchr(a, ']', (size_t)(end - a));
    struct in6_addr a6;
    if (!rb) return fail(u, err, errlen, "an unclosed '[' in the host");
    h = a + 1, hend = rb, p = rb + 1;
    if ((size_t)(hend - h) >= sizeof buf) return fail(u, err, errlen, "an invalid IPv6 address");
    memcpy(buf, h, (size_t)(hend - h));
    buf[hend - h] = '\0';
    if (inet_pton(AF_INET6, buf, &a6) != 1)
      return fail(u, err, errlen, "an invalid IPv6 address '[%s]'", buf);
    if (p != end && *p != ':')
      return fail(u, err, errlen, "'%c' after the IPv6 address (expected ':port' or '/')", *p);
  } else {
    hend = memchr(a, ':', (size_t)(end - a));
    if (!hend) hend = end;
    p = hend;
    for (const char *q = h; q < hend; q++)
      if (!is_host_char((unsigned char)*q))
        return fail(u, err, errlen, "the character '%c' in the host (expected letters, "
                    "digits, '-', '.', an IPv4 address or a bracketed IPv6 address)", *q);
    if ((size_t)(hend - h) == strspn(h, "0123456789.") && hend > h) {
      struct in_addr a4;
      size_t n = (size_t)(hend - h) < sizeof buf ? (size_t)(hend - h) : sizeof buf - 1;
      memcpy(buf, h, n);
      buf[n] = '\0';
      if (inet_pton(AF_INET, buf, &a4) != 1)
        return fail(u, err, errlen, "an invalid IPv4 address '%s'", buf);
    }
  }
  if (hend == h) return fail(u, err, errlen, "no host (expected %s://host[:port][/path])", u->scheme);
  if (hend - h > HOST_MAX) return fail(u, err, errlen, "a host longer than %d characters", HOST_MAX);

  u->port = u->default_port;
  if (p < end) { /* *p == ':' */
    long port = 0;
    p++;
    if (p == end) return fail(u, err, errlen, "an empty port after ':' (remove the ':' or add a port)");
    for (const char *q = p; q < end; q++) {
      if (!isdigit((unsigned char)*q) || port > 65535)
        return fail(u, err, errlen, "an invalid port '%.*s' (expected 1-65535)",
                    end - p > 16 ? 16 : (int)(end - p), p);
      port = port * 10 + (*q - '0');
    }
    if (port < 1 || port > 65535)
      return fail(u, err, errlen, "an invalid port '%.*s' (expected 1-65535)",
                  end - p > 16 ? 16 : (int)(end - p), p);
    u->port = (int)port;
  }
  if (!(u->host = strndup(h, (size_t)(hend - h)))) return fail(u, err, errlen, "no memory");
  for (char *q = u->host; *q; q++) *q = (char)tolower((unsigned char)*q);
  return 0;
}

static int make_authority(pt_url_t *u, char *err, int errlen) {
  size_t n = strlen(u->host) + 16;
  int v6 = strchr(u->host, ':') != NULL;
  if (!(u->authority = malloc(n))) return fail(u, err, errlen, "no memory");
  if (u->port == u->default_port)
    snprintf(u->authority, n, v6 ? "[%s]" : "%s", u->host);
  else
    snprintf(u->authority, n, v6 ? "[%s]:%d" : "%s:%d", u->host, u->port);
  n += strlen(u->scheme) + 3;
  if (!(u->origin = malloc(n))) return fail(u, err, errlen, "no memory");
  snprintf(u->origin, n, v6 ? "%s://[%s]:%d" : "%s://%s:%d", u->scheme, u->host, u->port);
  return 0;
}

int pt_url_parse(pt_url_t *u, const char *s, char *err, int errlen) {
  size_t len;
  int n;
  memset(u, 0, sizeof *u);
  if (!s || !*s) return fail(u, err, errlen, "nothing (expected http://host[:port][/path])");
  if ((len = strlen(s)) > URL_MAX)
    return fail(u, err, errlen, "%zu characters (at most %d)", len, URL_MAX);
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch <= ' ' || ch == 0x7f)
      return fail(u, err, errlen, "a %s at offset %zu (encode it as %%%02X)",
                  ch == ' ' ? "space" : "control character", i, ch);
  }
  if ((n = parse_scheme(u, s, err, errlen)) < 0) return -1;

  const char *a = s + n, *aend = a + strcspn(a, "/?#");
  if (parse_authority(u, a, aend, err, errlen) < 0) return -1;

  const char *pend = aend + strcspn(aend, "?#");
  if (*pend == '?')
    return fail(u, err, errlen, "a query string ('?...'); a base URL cannot have a query "
                "or fragment (remove it, or add it with a policy)");
  if (*pend == '#')
    return fail(u, err, errlen, "a fragment ('#...'); a base URL cannot have a query or "
                "fragment (remove it)");
  if (!(u->path = strndup(aend, (size_t)(pend - aend)))) return fail(u, err, errlen, "no memory");
  return make_authority(u, err, errlen);
}

void pt_url_free(pt_url_t *u) {
  free(u->host);
  free(u->path);
  free(u->authority);
  free(u->origin);
  memset(u, 0, sizeof *u);
}
