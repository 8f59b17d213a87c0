/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who called connect(): the backend holds every connect() (and TCP Fast Open send) made in
 * the sandbox while the supervisor's main thread records the caller's executable and
 * ancestors here, keyed by the socket's inode; the relay takes the record when it accepts
 * that socket and requires the connector to be allowed as well as every holder.
 *
 * Why: the holders the relay finds when it accepts are who holds the socket then, not who
 * connected it. A process could connect, send, and exec an allowed binary (or hand the
 * socket over by SCM_RIGHTS and close its copy) before the relay's accept: 58 of 200
 * tries got their bytes out that way. The caller of a held connect() cannot exec
 * meanwhile: an exec in another of its threads kills it first, and then there is no call.
 *
 * Each connect() on a socket adds its caller; a record is refused if any of them is. A
 * record read for a caller that died meanwhile can only add a refusal, never lift one, so
 * no answer from the kernel needs to be trusted more than that. Records never taken (a
 * unix socket, a loopback peer, a connection refused by the listener's backlog) expire. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "egress/egress-internal.h"
#include "macro.h"

#define SLOTS (2 * CONNECT_RECORDS_MAX) /* open addressing, at most half full */
#define CHAIN_MAX 15 /* as identity_of(): the executable and 14 ancestors */

static size_t slot_of(uint32_t ino) {
        return (size_t) ((ino * 2654435761U) & (SLOTS - 1));
}

static void record_release(struct connect_records *t, struct connect_record *r) {
        for (size_t i = 0; i < r->n; i++) {
                if (t)
                        t->bytes -= r->who[i]->size;
                free(r->who[i]);
        }
        *r = (struct connect_record) { 0 };
}

static bool same_connector(const struct connector *a, const struct connector *b) {
        if (a->pid != b->pid || a->n_chain != b->n_chain)
                return false;
        for (size_t i = 0; i < a->n_chain; i++)
                if (strcmp(a->chain[i], b->chain[i]) != 0)
                        return false;
        return true;
}

/* Removes slot i and moves later entries of its probe run back (no tombstones). */
static void slot_delete(struct connect_records *t, size_t i) {
        size_t j = i;

        t->slots[i] = (struct connect_record) { 0 };
        for (;;) {
                size_t home;

                j = (j + 1) & (SLOTS - 1);
                if (t->slots[j].ino == 0)
                        break;
                home = slot_of(t->slots[j].ino);
                /* Stays if its home lies cyclically in (i, j]. */
                if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
                        continue;
                t->slots[i] = t->slots[j];
                t->slots[j] = (struct connect_record) { 0 };
                i = j;
        }
        t->n--;
}

static size_t slot_find(const struct connect_records *t, uint32_t ino) {
        for (size_t i = slot_of(ino);; i = (i + 1) & (SLOTS - 1))
                if (t->slots[i].ino == ino || t->slots[i].ino == 0)
                        return i;
}

/* The caller's executable, then its ancestors up to (not including) the sandbox's init,
 * as identity_of() reads a holder's; one allocation. NULL when its executable cannot be
 * read (it exited, or the binary was deleted): the record then says "unknown". */
static struct connector *connector_read(struct proc_refs *refs, pid_t pid, pid_t init_pid) {
        char paths[CHAIN_MAX][4096];
        size_t len[CHAIN_MAX], n = 0, total = 0;
        struct connector *c;
        pid_t tgid = 0, parent;
        char *s;

        if (!proc_refs_exe(refs, pid, paths[0]))
                return NULL;
        len[n] = strlen(paths[n]) + 1;
        total += len[n++];
        /* seccomp names the calling thread: the record (and its events) name its process. */
        parent = proc_refs_ppid(refs, pid, &tgid);
        /* Without a known init there is no inside to bound the walk: the host's processes
         * above the sandbox are nothing the policy may match, so only the caller counts. */
        for (pid_t p = init_pid > 0 ? parent : 0;
             p > 1 && p != init_pid && n < CHAIN_MAX; p = proc_refs_ppid(refs, p, NULL))
                if (proc_refs_exe(refs, p, paths[n])) {
                        len[n] = strlen(paths[n]) + 1;
                        total += len[n++];
                }
        c = malloc(sizeof *c + total);
        if (!c)
                return NULL;
        c->pid = tgid > 0 ? tgid : pid;
        c->size = sizeof *c + total;
        c->n_chain = n;
        s = (char *) (c + 1);
        for (size_t i = 0; i < n; i++) {
                memcpy(s, paths[i], len[i]);
                c->chain[i] = s;
                s += len[i];
        }
        return c;
}

/* The oldest record goes when the table is full: a connection whose record went is
 * refused (no record), never allowed. */
static void evict_oldest(struct connect_records *t) {
        size_t oldest = SLOTS;

        for (size_t i = 0; i < SLOTS; i++)
                if (t->slots[i].ino && (oldest == SLOTS || t->slots[i].when < t->slots[oldest].when))
                        oldest = i;
        if (oldest < SLOTS) {
                record_release(t, &t->slots[oldest]);
                slot_delete(t, oldest);
        }
}

/* ino's record, made (the table allocated at first use, the oldest record evicted when
 * full) if there is none, stamped now; NULL without memory. Under the lock. */
static struct connect_record *record_get(struct connect_records *t, uint32_t ino, uint64_t now) {
        struct connect_record *r;

        if (!t->slots) {
                t->slots = calloc(SLOTS, sizeof *t->slots);
                if (!t->slots)
                        return NULL;
        }
        r = &t->slots[slot_find(t, ino)];
        if (r->ino == 0) {
                if (t->n >= CONNECT_RECORDS_MAX) {
                        evict_oldest(t);
                        r = &t->slots[slot_find(t, ino)];
                }
                *r = (struct connect_record) { .ino = ino };
                t->n++;
        }
        r->when = now;
        return r;
}

int connectors_note(struct connect_records *t, pid_t pid, uint32_t ino, pid_t init_pid,
                    uint64_t now) {
        struct connector *c;
        struct connect_record *r;
        int ret = 0;

        if (ino == 0)
                return -EINVAL;
        /* Read outside the lock: the relay's thread never waits on /proc for it. */
        c = connector_read(&t->refs, pid, init_pid);
        pthread_mutex_lock(&t->lock);
        r = record_get(t, ino, now);
        if (!r) {
                ret = -ENOMEM;
                goto out;
        }
        /* The same caller again (a non-blocking connect() polled, a restart after EINTR)
         * adds nothing. The table's paths are bounded in bytes, not only in records: a
         * caller beyond the budget is unknown, refused. */
        for (size_t i = 0; c && i < r->n; i++)
                if (same_connector(r->who[i], c))
                        goto out;
        if (!c || t->bytes + c->size > CONNECT_RECORDS_MAX_BYTES)
                r->unknown = true;
        else if (r->n == ELEMENTSOF(r->who))
                r->overflow = true;
        else {
                t->bytes += c->size;
                r->who[r->n++] = TAKE_PTR(c);
        }
out:
        pthread_mutex_unlock(&t->lock);
        free(c);
        return ret;
}

bool connectors_take(struct connect_records *t, uint32_t ino, struct connect_record *ret) {
        bool found = false;

        pthread_mutex_lock(&t->lock);
        if (t->slots && ino != 0) {
                size_t i = slot_find(t, ino);

                if (t->slots[i].ino == ino) {
                        *ret = t->slots[i];
                        /* The connectors now belong to *ret. */
                        for (size_t k = 0; k < ret->n; k++)
                                t->bytes -= ret->who[k]->size;
                        t->slots[i].n = 0;
                        slot_delete(t, i);
                        found = true;
                }
        }
        pthread_mutex_unlock(&t->lock);
        return found;
}

void connectors_expire(struct connect_records *t, uint64_t now) {
        pthread_mutex_lock(&t->lock);
        if (t->slots && t->n > 0)
                for (size_t i = 0; i < SLOTS; i++) {
                        struct connect_record *r = &t->slots[i];

                        /* A deletion shifts a later entry into i: look at i again. when
                         * may be a little after now: the main thread stamps records with
                         * its own clock reading. */
                        while (r->ino && r->when < now && now - r->when > CONNECT_RECORD_TTL_USEC) {
                                record_release(t, r);
                                slot_delete(t, i);
                        }
                }
        pthread_mutex_unlock(&t->lock);
}

void connect_record_done(struct connect_record *r) {
        record_release(NULL, r);        /* taken: no longer counted in the table */
}

void connectors_abandon(struct connect_records *t, uint32_t ino, uint64_t now) {
        struct connect_record *r;

        if (ino == 0)
                return;
        pthread_mutex_lock(&t->lock);
        r = record_get(t, ino, now);
        if (r)
                r->unknown = true;
        pthread_mutex_unlock(&t->lock);
}

void connectors_init(struct connect_records *t) {
        *t = (struct connect_records) { 0 };
        pthread_mutex_init(&t->lock, NULL);
}

void connectors_free(struct connect_records *t) {
        if (t->slots)
                for (size_t i = 0; i < SLOTS; i++)
                        record_release(t, &t->slots[i]);
        free(t->slots);
        t->slots = NULL;
        t->n = t->bytes = 0;
        proc_refs_free(&t->refs);
        pthread_mutex_destroy(&t->lock);
}
