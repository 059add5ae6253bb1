/* main.c - the `portico` command line; a thin client of portico.h. */
#include <stdio.h>
#include <string.h>

#include "openapi.h"
#include "portico.h"

static const char usage[] =
    "usage: portico run -c FILE      start the gateway (also: portico -c FILE)\n"
    "       portico check -c FILE    validate a configuration, print every error, exit 1 on any\n"
    "       portico import-openapi SPEC [--api-id ID] [--path P] [--base-url URL]\n"
    "                                print the gateway.yaml entry of the API an OpenAPI 2/3\n"
    "                                spec (YAML or JSON) describes; warnings go to stderr\n"
    "       portico reload -c FILE   ask the running gateway (its gateway.admin listener) to reload\n"
    "       portico version          print the version\n"
    "       portico --help           this text\n"
    "\n"
    "While running: edits to the configuration and the files it names reload it, as do\n"
    "SIGHUP and POST /reload on the admin listener; SIGTERM/SIGINT drain and stop.\n";

static const char *config_arg(int argc, char **argv, int from) {
  for (int i = from; i < argc; i++) {
    if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) && i + 1 < argc) return argv[i + 1];
    if (strncmp(argv[i], "--config=", 9) == 0) return argv[i] + 9;
  }
  return NULL;
}

static int run(const char *path) {
  pt_gateway_t *gw = pt_gateway_new();
  int rc = gw ? pt_gateway_load(gw, path, stderr) : -1;
  if (rc == 0) rc = pt_gateway_run(gw, 1);
  pt_gateway_free(gw);
  return rc == 0 ? 0 : 1;
}

/* import-openapi SPEC [--api-id ID] [--path P] [--base-url URL] (also --opt=value) */
static int import_openapi(int argc, char **argv) {
  pt_openapi_options_t o = {0};
  const char *spec = NULL;
  static const char *const names[] = {"--api-id", "--path", "--base-url"};
  const char **slots[] = {&o.api_id, &o.path, &o.base_url};
  for (int i = 2; i < argc; i++) {
    int k, known = 0;
    for (k = 0; k < 3 && !known; k++) {
      size_t n = strlen(names[k]);
      if (strcmp(argv[i], names[k]) == 0 && i + 1 < argc) *slots[k] = argv[++i], known = 1;
      else if (strncmp(argv[i], names[k], n) == 0 && argv[i][n] == '=') *slots[k] = argv[i] + n + 1, known = 1;
    }
    if (known) continue;
    if (argv[i][0] == '-' || spec) {
      fprintf(stderr, "portico import-openapi: unexpected argument '%s'\n%s", argv[i], usage);
      return 2;
    }
    spec = argv[i];
  }
  if (!spec) {
    fprintf(stderr, "portico import-openapi: missing SPEC\n%s", usage);
    return 2;
  }
  pt_diag_t d = {0};
  pt_api_cfg_t api;
  int rc = pt_openapi_import(spec, &o, &api, &d);
  pt_diag_print(&d, stderr);
  pt_diag_free(&d);
  if (rc < 0) return 1;
  pt_openapi_print_yaml(stdout, &api);
  pt_openapi_api_free(&api);
  return 0;
}

int main(int argc, char **argv) {
  const char *cmd = argc > 1 ? argv[1] : "--help";
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
    fputs(usage, stdout);
    return 0;
  }
  if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
    printf("portico %s\n", pt_version());
    return 0;
  }
  if (strcmp(cmd, "import-openapi") == 0) return import_openapi(argc, argv);
  int sub = strcmp(cmd, "run") == 0 || strcmp(cmd, "check") == 0 || strcmp(cmd, "reload") == 0;
  const char *path = config_arg(argc, argv, sub ? 2 : 1);
  if (!path || (!sub && cmd[0] != '-')) {
    fprintf(stderr, "portico: %s\n%s", path ? "unknown command" : "missing -c FILE", usage);
    return 2;
  }
  if (strcmp(cmd, "check") == 0) return pt_check(path, stdout) ? 1 : 0;
  if (strcmp(cmd, "reload") == 0) return pt_reload_running(path, stdout) ? 1 : 0;
  return run(path);
}
