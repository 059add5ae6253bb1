/* main.c - the `portico` command line; a thin client of portico.h. */
#include <stdio.h>
#include <string.h>

#include "portico.h"

static const char usage[] =
    "usage: portico run -c FILE      start the gateway (also: portico -c FILE)\n"
    "       portico check -c FILE    validate a configuration, print every error, exit 1 on any\n"
    "       portico version          print the version\n"
    "       portico --help           this text\n"
    "\n"
    "While running: SIGHUP reloads the configuration, SIGTERM/SIGINT drain and stop.\n";

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
  int sub = strcmp(cmd, "run") == 0 || strcmp(cmd, "check") == 0;
  const char *path = config_arg(argc, argv, sub ? 2 : 1);
  if (!path || (!sub && cmd[0] != '-')) {
    fprintf(stderr, "portico: %s\n%s", path ? "unknown command" : "missing -c FILE", usage);
    return 2;
  }
  if (strcmp(cmd, "check") == 0) return pt_check(path, stdout) ? 1 : 0;
  return run(path);
}
