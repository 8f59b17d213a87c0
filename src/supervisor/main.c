/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "supervisor.h"

static void help(void) {
        printf("Usage: caisson COMMAND [OPTIONS]\n\n"
               "A sandbox supervisor for AI agents and other untrusted code.\n\n"
               "Commands:\n"
               "  run [OPTIONS] -- CMD...   run CMD in a new sandbox (see 'caisson run --help')\n"
               "  policy check FILE         validate a policy and print what it enforces\n"
               "  policy explain FILE --connect HOST:PORT [--binary PATH]\n"
               "                            which rule allows or denies a connection, and why\n"
               "  doctor                    which kernel features this machine has\n"
               "  gc                        reclaim what dead supervisors left behind\n"
               "  --version                 print the version\n\n"
               "Environment: CAISSON_LOG_LEVEL=error|warning|info|debug\n"
               "See caisson(1), caisson-run(1), caisson-policy(5).\n");
}

int main(int argc, char **argv) {
        const char *lvl = getenv("CAISSON_LOG_LEVEL");

        if (lvl && log_set_level_from_string(lvl) < 0)
                fprintf(stderr, "caisson: CAISSON_LOG_LEVEL '%s' unknown; using 'warning'\n", lvl);
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                help();
                return argc < 2 ? EXIT_CAISSON : 0;
        }
        if (streq(argv[1], "--version")) {
                printf("caisson " CAISSON_VERSION "\n");
                return 0;
        }
        if (streq(argv[1], "run"))
                return cmd_run(argc - 1, argv + 1);
        if (streq(argv[1], "policy"))
                return cmd_policy(argc - 1, argv + 1);
        if (streq(argv[1], "doctor"))
                return cmd_doctor(argc - 1, argv + 1);
        if (streq(argv[1], "gc"))
                return cmd_gc(argc - 1, argv + 1);
        fprintf(stderr, "caisson: unknown command '%s' (see 'caisson --help')\n", argv[1]);
        return EXIT_CAISSON;
}
