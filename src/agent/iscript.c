/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iscript.c: iscript=URL: a preboot script run before the boot, only when its
 * signature verifies against the trusted keys.
 */
#include <stdio.h>

#include "fetch.h"
#include "sig.h"

#include "agent.h"

int agent_run_iscript(struct agent *a) {
        _cleanup_(freep) char *text = NULL, *sig = NULL, *surl = NULL, *path = NULL;
        size_t len, sl;
        struct ib_err e = {};
        int r;

        if (asprintf(&surl, "%s.sig", a->req.iscript) < 0 || asprintf(&path, "%s/iscript", a->work) < 0)
                return agent_fail("out of memory");
        agent_say("fetching the preboot script %s", a->req.iscript);
        if (ib_fetch(a->req.iscript, a->ca_file, 1u << 20, &text, &len, &e) < 0 ||
            ib_fetch(surl, a->ca_file, IB_SIG_MAX_BYTES, &sig, &sl, &e) < 0)
                return agent_fail("iscript: %s", e.msg);
        if (ib_verify(a->keys, text, len, sig, sl, NULL, &e) < 0)
                return agent_fail("iscript %s is not run: %s", a->req.iscript, e.msg);
        if (ib_write_file_atomic(path, text, len, 0700) < 0)
                return agent_fail("cannot write %s: %m", path);
        r = agent_run((char *[]) { "/bin/sh", path, NULL }, false);
        if (r != 0)
                return agent_fail("the preboot script %s failed (exit %d)", a->req.iscript, r);
        return 0;
}
