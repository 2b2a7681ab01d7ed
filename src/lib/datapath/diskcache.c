/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include "diskcache.h"
#include "image.h"

struct entry {
        uint8_t sha[32];
        uint64_t size;
        int64_t used;           /* mtime (ns): last write or hit */
        bool live;
};

/* Entries live in an open-addressing hash table (linear probing, at most half full). */
struct ib_diskcache {
        pthread_mutex_t lock;   /* guards the index (not the files' I/O); every public function takes it */
        /*
         * DIR/blocks, open: every file is reached through it (*at() calls), never
         * by path, so the cache keeps working when its mount is detached from
         * the daemon's view (systemd 254 and later, switching root out of an
         * initrd, lazily unmounts what it leaves behind).
         */
        int dfd;
        uint64_t max_bytes, bytes, evictions, writes;
        struct entry *e;
        size_t n, cap;          /* cap: a power of two */
};

/* A block's file, relative to DIR/blocks: "ab/ab12...". */
static void entry_path(const uint8_t sha[32], char path[68]) {
        char hex[65];

        ib_hex(sha, 32, hex);
        snprintf(path, 68, "%.2s/%s", hex, hex);
}

static int64_t now_ns(void) {
        struct timespec ts;

        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static size_t home(const struct ib_diskcache *dc, const uint8_t sha[32]) {
        uint64_t h;

        memcpy(&h, sha, sizeof(h)); /* a SHA-256 is as good a hash as any */
        return (size_t)h & (dc->cap - 1);
}

static struct entry *find(struct ib_diskcache *dc, const uint8_t sha[32]) {
        if (!dc->cap)
                return NULL;
        for (size_t i = home(dc, sha);; i = (i + 1) & (dc->cap - 1)) {
                if (!dc->e[i].live)
                        return NULL;
                if (memcmp(dc->e[i].sha, sha, 32) == 0)
                        return &dc->e[i];
        }
}

static void insert(struct ib_diskcache *dc, const struct entry *e) {
        size_t i = home(dc, e->sha);

        while (dc->e[i].live)
                i = (i + 1) & (dc->cap - 1);
        dc->e[i] = *e;
        dc->e[i].live = true;
}

static int add(struct ib_diskcache *dc, const uint8_t sha[32], uint64_t size, int64_t used) {
        struct entry e = { .size = size, .used = used };

        if ((dc->n + 1) * 2 > dc->cap) {
                size_t ocap = dc->cap, ncap = dc->cap ? dc->cap * 2 : 1024;
                struct entry *old = dc->e, *ne = calloc(ncap, sizeof(*ne));

                if (!ne)
                        return -ENOMEM;
                dc->e = ne;
                dc->cap = ncap;
                for (size_t i = 0; i < ocap; i++)
                        if (old[i].live)
                                insert(dc, &old[i]);
                free(old);
        }
        memcpy(e.sha, sha, 32);
        insert(dc, &e);
        dc->n++;
        dc->bytes += size;
        return 0;
}

/* Forget an entry (and remove its file if @unlink_file); backward-shift deletion. */
static void forget(struct ib_diskcache *dc, struct entry *e, bool unlink_file) {
        size_t i = (size_t)(e - dc->e), j = i;

        if (unlink_file) {
                char path[68];

                entry_path(e->sha, path);
                unlinkat(dc->dfd, path, 0);
        }
        dc->bytes -= e->size;
        dc->n--;
        dc->e[i].live = false;
        for (;;) {
                size_t k;

                j = (j + 1) & (dc->cap - 1);
                if (!dc->e[j].live)
                        return;
                k = home(dc, dc->e[j].sha);
                /* Move e[j] into the hole at i unless its home lies cyclically in (i, j]. */
                if ((i <= j) ? (i < k && k <= j) : (i < k || k <= j))
                        continue;
                dc->e[i] = dc->e[j];
                dc->e[j].live = false;
                i = j;
        }
}

static int by_use(const void *a, const void *b) {
        const struct entry *x = a, *y = b;

        return x->used < y->used ? -1 : x->used > y->used;
}

/* Evict least recently used entries until @need more bytes fit (down to 90 % of the bound). */
static void make_room(struct ib_diskcache *dc, uint64_t need) {
        struct entry *all;
        uint64_t target;
        size_t m = 0;

        if (!dc->max_bytes || dc->bytes + need <= dc->max_bytes)
                return;
        target = dc->max_bytes / 10 * 9;
        target = target > need ? target - need : 0;
        all = malloc(dc->n * sizeof(*all));
        if (!all)
                return;
        for (size_t i = 0; i < dc->cap; i++)
                if (dc->e[i].live)
                        all[m++] = dc->e[i];
        qsort(all, m, sizeof(*all), by_use);
        for (size_t k = 0; k < m && dc->bytes > target; k++) {
                struct entry *e = find(dc, all[k].sha);

                if (e) {
                        forget(dc, e, true);
                        dc->evictions++;
                }
        }
        free(all);
}

int ib_diskcache_open(const char *dir, uint64_t max_bytes, struct ib_diskcache **ret, struct ib_err *err) {
        struct ib_diskcache *dc = calloc(1, sizeof(*dc));
        char path[4096];
        DIR *top;
        int fd, r;

        if (!dc)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        dc->max_bytes = max_bytes;
        dc->dfd = -1;
        pthread_mutex_init(&dc->lock, NULL);
        snprintf(path, sizeof(path), "%s/blocks", dir);
        if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || (mkdir(path, 0755) < 0 && errno != EEXIST)) {
                r = -errno;
                ib_diskcache_free(dc);
                return ib_err_set(err, r, 0, "cannot create the cache directory %s: %s", path, strerror(-r));
        }
        dc->dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        fd = dc->dfd < 0 ? -1 : openat(dc->dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        top = fd < 0 ? NULL : fdopendir(fd);
        if (!top) {
                r = -errno;
                if (fd >= 0)
                        close(fd);
                ib_diskcache_free(dc);
                return ib_err_set(err, r, 0, "cannot read the cache directory %s: %s", path, strerror(-r));
        }
        /* Index what is there; leftovers of interrupted writes (temporary files) are removed. */
        for (struct dirent *de; (de = readdir(top));) {
                DIR *d;

                if (strlen(de->d_name) != 2 || strspn(de->d_name, "0123456789abcdef") != 2)
                        continue;
                fd = openat(dc->dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                d = fd < 0 ? NULL : fdopendir(fd);
                if (!d) {
                        if (fd >= 0)
                                close(fd);
                        continue;
                }
                for (struct dirent *fe; (fe = readdir(d));) {
                        uint8_t sha[32];
                        struct stat st;

                        if (fe->d_name[0] == '.')
                                continue;
                        if (strlen(fe->d_name) != 64 || ib_unhex(fe->d_name, 64, sha, 32) < 0) {
                                if (strstr(fe->d_name, ".tmp-"))
                                        unlinkat(dirfd(d), fe->d_name, 0);
                                continue;
                        }
                        if (fstatat(dirfd(d), fe->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
                                continue;
                        if (add(dc, sha, (uint64_t)st.st_size, (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec) < 0) {
                                closedir(d);
                                closedir(top);
                                ib_diskcache_free(dc);
                                return ib_err_set(err, -ENOMEM, 0, "out of memory");
                        }
                }
                closedir(d);
        }
        closedir(top);
        make_room(dc, 0);
        *ret = dc;
        return 0;
}

/*
 * The lock guards the index only: a block's file is read, hashed and
 * written without it, so that a reader of one entry never waits for the
 * writer of another (nor the fetch thread's ib_diskcache_has for either).
 * An entry evicted while it is read stays readable through its open file;
 * one that vanished before the open is forgotten.
 */
int ib_diskcache_get(struct ib_diskcache *dc, const uint8_t sha[32], void *buf, size_t len) {
        struct entry *e;
        char path[68];
        uint8_t got[32], extra;
        ssize_t n;
        int fd;

        pthread_mutex_lock(&dc->lock);
        e = find(dc, sha);
        pthread_mutex_unlock(&dc->lock);
        if (!e)
                return 0;
        entry_path(sha, path);
        fd = openat(dc->dfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                /* Gone (another process evicted it): forget it. */
                pthread_mutex_lock(&dc->lock);
                if ((e = find(dc, sha)))
                        forget(dc, e, false);
                pthread_mutex_unlock(&dc->lock);
                return 0;
        }
        n = ib_pread_full(fd, buf, len, 0);
        if (n == (ssize_t)len && pread(fd, &extra, 1, (off_t)len) != 0)
                n = -1; /* longer than the block: not this block */
        close(fd);
        if (n != (ssize_t)len || ib_sha256(buf, len, got) < 0 || memcmp(got, sha, 32) != 0) {
                pthread_mutex_lock(&dc->lock);
                if ((e = find(dc, sha)))
                        forget(dc, e, true);
                pthread_mutex_unlock(&dc->lock);
                return -EBADMSG;
        }
        pthread_mutex_lock(&dc->lock);
        if ((e = find(dc, sha)))
                e->used = now_ns();
        pthread_mutex_unlock(&dc->lock);
        utimensat(dc->dfd, path, NULL, 0); /* LRU across restarts; FAT keeps 2 s resolution, fine */
        return 1;
}

bool ib_diskcache_has(struct ib_diskcache *dc, const uint8_t sha[32]) {
        bool r;

        pthread_mutex_lock(&dc->lock);
        r = find(dc, sha) != NULL;
        pthread_mutex_unlock(&dc->lock);
        return r;
}

int ib_diskcache_put(struct ib_diskcache *dc, const uint8_t sha[32], const void *data, size_t len) {
        char path[68];
        int r;

        pthread_mutex_lock(&dc->lock);
        if (find(dc, sha)) {
                pthread_mutex_unlock(&dc->lock);
                return 0;
        }
        if (dc->max_bytes && len > dc->max_bytes) {
                pthread_mutex_unlock(&dc->lock);
                return -E2BIG;
        }
        make_room(dc, len);
        pthread_mutex_unlock(&dc->lock);
        entry_path(sha, path);
        path[2] = 0;
        r = mkdirat(dc->dfd, path, 0755);
        path[2] = '/';
        if (r < 0 && errno != EEXIST)
                return -errno;
        /* No fsync per block: an entry is verified whenever it is read, so a crash costs a refetch, never bad data. */
        r = ib_write_file_replace_at(dc->dfd, path, data, len, 0644, false);
        if (r < 0)
                return r;
        pthread_mutex_lock(&dc->lock);
        dc->writes++;
        r = find(dc, sha) ? 0 : add(dc, sha, len, now_ns()); /* (another writer may have stored the same block) */
        pthread_mutex_unlock(&dc->lock);
        return r;
}

uint64_t ib_diskcache_room(struct ib_diskcache *dc) {
        uint64_t room = UINT64_MAX, fs_free, margin;
        struct statvfs st;

        pthread_mutex_lock(&dc->lock);
        if (dc->max_bytes)
                room = dc->max_bytes > dc->bytes ? dc->max_bytes - dc->bytes : 0;
        pthread_mutex_unlock(&dc->lock);
        if (fstatvfs(dc->dfd, &st) < 0)
                return 0;
        fs_free = (uint64_t)st.f_bavail * st.f_frsize;
        margin = (uint64_t)st.f_blocks * st.f_frsize / 20;
        if (margin > (64u << 20))
                margin = 64u << 20;
        fs_free = fs_free > margin ? fs_free - margin : 0;
        return fs_free < room ? fs_free : room;
}

void ib_diskcache_stats(struct ib_diskcache *dc, FILE *f) {
        pthread_mutex_lock(&dc->lock);
        fprintf(f, "cache-bytes %" PRIu64 "\ncache-entries %zu\ncache-limit %" PRIu64 "\ncache-writes %" PRIu64
                "\ncache-evictions %" PRIu64 "\n", dc->bytes, dc->n, dc->max_bytes, dc->writes, dc->evictions);
        pthread_mutex_unlock(&dc->lock);
}

struct ib_diskcache *ib_diskcache_free(struct ib_diskcache *dc) {
        if (!dc)
                return NULL;
        pthread_mutex_destroy(&dc->lock);
        if (dc->dfd >= 0)
                close(dc->dfd);
        free(dc->e);
        free(dc);
        return NULL;
}
