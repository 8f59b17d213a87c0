/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The sha256 of a client's executable, for its egress events, computed on a thread of its own.
 *
 * Why: the relay's thread also answers the sandbox's DNS and moves every open connection's
 * bytes. Hashing there stopped all of that for as long as the hash took, at the first
 * connection of each binary: 0.3 s for node (99 MB), 1.7 s for a binary at the 512 MiB cap.
 * The decision never needs the hash (binaries globs match paths), only the event does: the
 * connection goes on at once, and its events wait here until the hash is known.
 *
 * Hashes are cached by (dev, ino, mtime); a binary already queued is not queued twice. The
 * executable is opened (through /proc/PID/exe) by the relay's thread when it is decided on,
 * so the hash is of the file that ran, whatever happens to its path meanwhile. With no sink
 * for events, nothing is hashed at all. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "egress/egress-internal.h"
#include "macro.h"

#define HASH_MAX_BYTES (512ULL << 20)
#define DEFERRED_MAX 4096               /* events waiting for a hash; more go out without */
/* At teardown the hashes queued go on for this long (one started goes on to its end), so
 * the last connections' events have theirs too; what is not started by then goes without. */
#define STOP_GRACE_USEC (2 * 1000000ULL)
#define RECENT 64

enum job_state { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct hash_job {
        enum job_state state;
        uint32_t id;                    /* nonzero while the slot is in use */
        int fd;                         /* the executable; the relay's thread closes it */
        uint64_t size;
        dev_t dev;
        ino_t ino;
        int64_t mtime_sec, mtime_nsec;
        bool ok;
        char hex[65];
};

struct deferred {
        struct deferred *next;
        uint32_t job;
        struct egress_event ev;
        char hex[65];
        char strings[];                 /* hostname, binary, detail */
};

struct hasher {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        pthread_t thread;
        bool stop, joined;
        uint64_t stop_by;               /* with stop: no job starts after this (egress_now) */
        struct hash_job jobs[HASHER_JOBS];
        uint32_t next_id;
        struct sha256_engine sha;       /* the worker's own */
        struct watch w_done;            /* eventfd: a job is done */
        struct deferred *deferred, **tail;
        size_t n_deferred;
        /* The last jobs reaped: an event may come for a job after it is done (a connection
         * goes on to connect upstream while its executable is hashed). */
        struct { uint32_t id; bool ok; char hex[65]; } recent[RECENT];
        size_t next_recent;
};

static void *hasher_main(void *userdata) {
        struct hasher *h = userdata;

        /* Loaded here, never on the way to the agent's start: AF_ALG, else Nettle (~0.17
         * ms), else libcrypto (0.9-3 ms). With none, events say the path only. */
        (void) sha256_engine_open(&h->sha);
        pthread_mutex_lock(&h->lock);
        for (;;) {
                struct hash_job *j = NULL;
                uint8_t md[32];
                uint64_t one = 1;
                bool ok, late = h->stop && egress_now() >= h->stop_by;

                for (size_t i = 0; i < HASHER_JOBS && !late; i++)
                        if (h->jobs[i].state == JOB_QUEUED && (!j || h->jobs[i].id < j->id))
                                j = &h->jobs[i];
                if (!j) {
                        if (h->stop)
                                break;
                        pthread_cond_wait(&h->cond, &h->lock);
                        continue;
                }
                j->state = JOB_RUNNING;
                pthread_mutex_unlock(&h->lock);
                ok = sha256_engine_name(&h->sha) && sha256_fd(&h->sha, j->fd, j->size, md) == 0;
                pthread_mutex_lock(&h->lock);
                j->ok = ok;
                for (size_t i = 0; ok && i < 32; i++)
                        (void) snprintf(j->hex + 2 * i, 3, "%02x", md[i]);
                j->state = JOB_DONE;
                if (write(h->w_done.fd, &one, sizeof one) < 0) {
                        /* an eventfd far from its limit: cannot fail */
                }
        }
        pthread_mutex_unlock(&h->lock);
        sha256_engine_close(&h->sha);
        return NULL;
}

static struct hasher *hasher_get(struct egress *e) {
        struct hasher *h = e->hasher;

        if (h)
                return h;
        h = calloc(1, sizeof *h);
        if (!h)
                return NULL;
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->cond, NULL);
        h->tail = &h->deferred;
        h->w_done = (struct watch) { .kind = WATCH_HASHED, .obj = h, .fd = -1 };
        for (size_t i = 0; i < HASHER_JOBS; i++)
                h->jobs[i].fd = -1;
        h->w_done.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (h->w_done.fd < 0 || egress_watch_add(e, &h->w_done, EPOLLIN) < 0 ||
            pthread_create(&h->thread, NULL, hasher_main, h) != 0) {
                safe_close(h->w_done.fd);
                free(h);
                return NULL;
        }
        e->hasher = h;
        return h;
}

static struct exe_hash *cached(struct egress *e, const struct stat *st) {
        for (size_t i = 0; i < ELEMENTSOF(e->hashes); i++) {
                struct exe_hash *c = &e->hashes[i];

                if (c->hex[0] && c->dev == st->st_dev && c->ino == st->st_ino &&
                    c->mtime_sec == st->st_mtim.tv_sec && c->mtime_nsec == st->st_mtim.tv_nsec)
                        return c;
        }
        return NULL;
}

static bool same_file(const struct hash_job *j, const struct stat *st) {
        return j->dev == st->st_dev && j->ino == st->st_ino &&
               j->mtime_sec == st->st_mtim.tv_sec && j->mtime_nsec == st->st_mtim.tv_nsec;
}

/* The queued (or running) job for st's file, or 0. Under the lock. */
static uint32_t job_for(struct hasher *h, const struct stat *st) {
        for (size_t i = 0; i < HASHER_JOBS; i++)
                if (h->jobs[i].id && same_file(&h->jobs[i], st))
                        return h->jobs[i].id;
        return 0;
}

void hasher_lookup(struct egress *e, pid_t pid, char hex[65], uint32_t *ret_job) {
        struct hasher *h;
        struct hash_job *slot = NULL;
        struct exe_hash *c;
        struct stat st;
        char path[64];
        int fd;

        hex[0] = 0;
        *ret_job = 0;
        if (!e->cfg.hash_binaries)
                return;
        (void) snprintf(path, sizeof path, "/proc/%d/exe", (int) pid);
        /* A stat finds a cached file; only a miss opens it. A binary rewritten in place
         * has a new mtime. */
        if (stat(path, &st) < 0)
                return;
        if ((c = cached(e, &st))) {
                memcpy(hex, c->hex, 65);
                return;
        }
        h = e->hasher;
        if (h) {
                pthread_mutex_lock(&h->lock);
                *ret_job = job_for(h, &st);
                pthread_mutex_unlock(&h->lock);
                if (*ret_job)
                        return;
        }
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return;
        /* What was opened is what gets hashed and cached (the path may name another file
         * by now). */
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
            (unsigned long long) st.st_size > HASH_MAX_BYTES || !(h = hasher_get(e))) {
                close(fd);
                return;
        }
        if ((c = cached(e, &st))) {
                memcpy(hex, c->hex, 65);
                close(fd);
                return;
        }
        pthread_mutex_lock(&h->lock);
        *ret_job = job_for(h, &st);
        for (size_t i = 0; i < HASHER_JOBS && !*ret_job && !slot; i++)
                if (h->jobs[i].state == JOB_FREE)
                        slot = &h->jobs[i];
        if (slot) {
                if (++h->next_id == 0)
                        h->next_id = 1;
                *slot = (struct hash_job) {
                        .state = JOB_QUEUED, .id = h->next_id, .fd = TAKE_FD(fd),
                        .size = (uint64_t) st.st_size, .dev = st.st_dev, .ino = st.st_ino,
                        .mtime_sec = st.st_mtim.tv_sec, .mtime_nsec = st.st_mtim.tv_nsec,
                };
                *ret_job = slot->id;
                pthread_cond_signal(&h->cond);
        }
        /* Every slot busy with other binaries: this one's events go out without. */
        pthread_mutex_unlock(&h->lock);
        safe_close(fd);
}

/* job's result, if it is done and reaped: true with *ok (and hex). */
static bool recent(const struct hasher *h, uint32_t job, bool *ok, char hex[65]) {
        for (size_t i = 0; i < RECENT; i++)
                if (h->recent[i].id == job) {
                        *ok = h->recent[i].ok;
                        memcpy(hex, h->recent[i].hex, 65);
                        return true;
                }
        return false;
}

static bool pending(struct hasher *h, uint32_t job) {
        bool found = false;

        pthread_mutex_lock(&h->lock);
        for (size_t i = 0; i < HASHER_JOBS && !found; i++)
                found = h->jobs[i].id == job;
        pthread_mutex_unlock(&h->lock);
        return found;
}

static char *put(char **p, const char *s) {
        char *at = *p;

        if (!s)
                return NULL;
        *p = stpcpy(at, s) + 1;
        return at;
}

void hasher_emit(struct egress *e, const struct egress_event *ev, uint32_t job) {
        struct hasher *h = e->hasher;
        struct deferred *d;
        size_t need = 0;
        char *p;

        if (job && h && !pending(h, job)) {
                struct egress_event done = *ev;
                char hex[65];
                bool ok;

                if (recent(h, job, &ok, hex) && ok) {
                        done.sha256 = hex;
                        done.assurance = "proc-exe+sha256";
                }
                egress_emit(e, &done);
                return;
        }
        if (!job || !h || h->joined || h->n_deferred >= DEFERRED_MAX) {
                egress_emit(e, ev);
                return;
        }
        need += ev->hostname ? strlen(ev->hostname) + 1 : 0;
        need += ev->binary ? strlen(ev->binary) + 1 : 0;
        need += ev->detail ? strlen(ev->detail) + 1 : 0;
        d = malloc(sizeof *d + need);
        if (!d) {
                egress_emit(e, ev);
                return;
        }
        d->next = NULL;
        d->job = job;
        d->ev = *ev;
        p = d->strings;
        d->ev.hostname = put(&p, ev->hostname);
        d->ev.binary = put(&p, ev->binary);
        d->ev.detail = put(&p, ev->detail);
        *h->tail = d;
        h->tail = &d->next;
        h->n_deferred++;
}

/* The events waiting for job (all of them with job 0) go out, in the order they came. */
static void flush(struct egress *e, struct hasher *h, uint32_t job, bool ok, const char *hex) {
        for (struct deferred **pp = &h->deferred, *d; (d = *pp);) {
                if (job && d->job != job) {
                        pp = &d->next;
                        continue;
                }
                *pp = d->next;
                if (h->tail == &d->next)
                        h->tail = pp;
                h->n_deferred--;
                if (ok) {
                        memcpy(d->hex, hex, 65);
                        d->ev.sha256 = d->hex;
                        d->ev.assurance = "proc-exe+sha256";
                }
                egress_emit(e, &d->ev);
                free(d);
        }
}

/* Every finished job: cached, its events out, its slot free. */
static void reap(struct egress *e, struct hasher *h) {
        for (size_t i = 0; i < HASHER_JOBS; i++) {
                struct hash_job j;

                pthread_mutex_lock(&h->lock);
                j = h->jobs[i];
                if (j.state == JOB_DONE)
                        h->jobs[i] = (struct hash_job) { .state = JOB_FREE, .fd = -1 };
                pthread_mutex_unlock(&h->lock);
                if (j.state != JOB_DONE)
                        continue;
                safe_close(j.fd);
                h->recent[h->next_recent].id = j.id;
                h->recent[h->next_recent].ok = j.ok;
                memcpy(h->recent[h->next_recent].hex, j.hex, 65);
                h->next_recent = (h->next_recent + 1) % RECENT;
                if (j.ok) {
                        struct exe_hash *c = &e->hashes[e->next_hash++ % ELEMENTSOF(e->hashes)];

                        *c = (struct exe_hash) { .dev = j.dev, .ino = j.ino,
                                                 .mtime_sec = j.mtime_sec,
                                                 .mtime_nsec = j.mtime_nsec };
                        memcpy(c->hex, j.hex, 65);
                }
                flush(e, h, j.id, j.ok, j.hex);
        }
}

void hasher_done(struct egress *e) {
        struct hasher *h = e->hasher;
        uint64_t n;

        if (!h)
                return;
        if (read(h->w_done.fd, &n, sizeof n) < 0) {
                /* EAGAIN: already read; the jobs are looked at anyway */
        }
        reap(e, h);
}

void hasher_stop(struct egress *e) {
        struct hasher *h = e->hasher;

        if (!h || h->joined)
                return;
        pthread_mutex_lock(&h->lock);
        h->stop = true;
        h->stop_by = egress_now() + STOP_GRACE_USEC;
        pthread_cond_signal(&h->cond);
        pthread_mutex_unlock(&h->lock);
        /* Waits for the hashes queued, for at most STOP_GRACE_USEC and the one then in
         * progress: the relay's thread used to take as long, on the connections' way. */
        (void) pthread_join(h->thread, NULL);
        h->joined = true;
        reap(e, h);
        /* Not started in time: their events go out with the path only. */
        for (size_t i = 0; i < HASHER_JOBS; i++) {
                safe_close(h->jobs[i].fd);
                h->jobs[i] = (struct hash_job) { .state = JOB_FREE, .fd = -1 };
        }
        flush(e, h, 0, false, NULL);
}

void hasher_free(struct egress *e) {
        struct hasher *h = e->hasher;

        if (!h)
                return;
        hasher_stop(e);
        egress_watch_del(e, &h->w_done);
        safe_close(h->w_done.fd);
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->cond);
        free(h);
        e->hasher = NULL;
}
