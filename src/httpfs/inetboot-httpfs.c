/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * inetboot-httpfs: the verifying HTTP file system.  Serves the image a
 * signed manifest describes, read-only, as MOUNTPOINT/<image name>; every
 * byte handed to the kernel was checked against the manifest.  The data
 * path is src/lib/datapath/blockdev/; this file is the FUSE front and the setup.
 * See inetboot-httpfs(1) beside this file.
 */
#define FUSE_USE_VERSION 31

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <syslog.h>
#include <time.h>

#include "blockdev.h"
#include "fetch.h"
#include "manifest.h"
#include "sig.h"
#include "keyring.h"
#include "state.h"

#ifndef IB_KEYS_DIR
#define IB_KEYS_DIR "/usr/local/share/inetboot/keys"
#endif
#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

#define STATS_NAME ".inetboot-stats"

static const char *prog = "inetboot-httpfs";

static struct {
        struct ib_manifest *m;
        struct ib_blockdev *bd;
        char *image_path;               /* "/<name>" */
        bool foreground, prefetch_profile;
        FILE *log_file;
        pthread_t sig_thread, ra_thread;
        bool sig_started;               /* sig_thread runs (fs_init()); main ends it before the block device */
        const char *mountpoint;
        unsigned kernel_readahead_kb;   /* the mount's page-cache readahead; 0: the kernel's default */
} g = { .prefetch_profile = true, .kernel_readahead_kb = 1024 };

/* ---- logging: stderr in the foreground, else the log file or syslog ---------------- */

static void log_line(void *ud, const char *msg) {
        if (g.log_file) {
                time_t t = time(NULL);
                struct tm tm;
                char ts[32];

                localtime_r(&t, &tm);
                strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", &tm);
                fprintf(g.log_file, "%s %s: %s\n", ts, prog, msg);
                fflush(g.log_file);
        } else if (g.foreground)
                fprintf(stderr, "%s: %s\n", prog, msg);
        else
                syslog(LOG_WARNING, "%s", msg);
}

/* ---- FUSE operations ------------------------------------------------------------- */

/*
 * The low-level API: a read is answered with fuse_reply_iov() straight out
 * of the RAM cache's slots, held while the kernel copies them, so the bytes
 * are copied once on their way from the socket to the page cache instead of
 * twice more (into libfuse's buffer, then out of it).  Three inodes: the
 * root, the image and the statistics file.
 */
enum { INO_ROOT = FUSE_ROOT_ID, INO_IMAGE, INO_STATS };
#define ATTR_TIMEOUT 3600.0

static int inode_stat(fuse_ino_t ino, struct stat *st) {
        memset(st, 0, sizeof(*st));
        st->st_ino = ino;
        st->st_uid = getuid();
        st->st_gid = getgid();
        st->st_mtime = st->st_ctime = st->st_atime = (time_t)g.m->created;
        switch (ino) {
        case INO_ROOT:
                st->st_mode = S_IFDIR | 0555;
                st->st_nlink = 2;
                return 0;
        case INO_IMAGE:
                st->st_mode = S_IFREG | 0444;
                st->st_nlink = 1;
                st->st_size = (off_t)g.m->size;
                st->st_blksize = (blksize_t)g.m->block_size;
                st->st_blocks = (blkcnt_t)((g.m->size + 511) / 512);
                return 0;
        case INO_STATS:
                st->st_mode = S_IFREG | 0444;
                st->st_nlink = 1;
                st->st_size = 0; /* generated when opened; read with direct I/O */
                st->st_mtime = time(NULL);
                return 0;
        }
        return -ENOENT;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name) {
        struct fuse_entry_param e = { .attr_timeout = ATTR_TIMEOUT, .entry_timeout = ATTR_TIMEOUT };

        if (parent != INO_ROOT) {
                fuse_reply_err(req, ENOTDIR);
                return;
        }
        if (strcmp(name, g.image_path + 1) == 0)
                e.ino = INO_IMAGE;
        else if (strcmp(name, STATS_NAME) == 0)
                e.ino = INO_STATS;
        else {
                fuse_reply_err(req, ENOENT);
                return;
        }
        inode_stat(e.ino, &e.attr);
        fuse_reply_entry(req, &e);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        struct stat st;

        if (inode_stat(ino, &st) < 0)
                fuse_reply_err(req, ENOENT);
        else
                fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
        const struct { const char *name; fuse_ino_t ino; } ents[] = {
                { ".", INO_ROOT }, { "..", INO_ROOT }, { g.image_path + 1, INO_IMAGE }, { STATS_NAME, INO_STATS },
        };
        char buf[1024];
        size_t len = 0, room = size < sizeof(buf) ? size : sizeof(buf);

        if (ino != INO_ROOT) {
                fuse_reply_err(req, ENOTDIR);
                return;
        }
        /* Entry k's offset is k + 1: where the next read goes on. */
        for (size_t k = off < 0 ? 0 : (size_t)off; k < sizeof(ents) / sizeof(ents[0]); k++) {
                struct stat st = { .st_ino = ents[k].ino, .st_mode = ents[k].ino == INO_ROOT ? S_IFDIR : S_IFREG };
                size_t n = fuse_add_direntry(req, buf + len, room - len, ents[k].name, &st, (off_t)k + 1);

                if (n > room - len)
                        break;
                len += n;
        }
        fuse_reply_buf(req, buf, len);
}

/*
 * The statistics file's text, made when it is opened.  A read may still be
 * answering when the release comes: a reader killed mid-read closes its file
 * without waiting for the answer.  So reads hold a reference.
 */
struct stats_buf {
        char *data;
        size_t len;
        unsigned refs;
};

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;

static struct stats_buf *stats_ref(uint64_t fh) {
        struct stats_buf *sb = (struct stats_buf *)(uintptr_t)fh;

        pthread_mutex_lock(&stats_lock);
        sb->refs++;
        pthread_mutex_unlock(&stats_lock);
        return sb;
}

static void stats_unref(struct stats_buf *sb) {
        bool last;

        pthread_mutex_lock(&stats_lock);
        last = --sb->refs == 0;
        pthread_mutex_unlock(&stats_lock);
        if (last) {
                free(sb->data);
                free(sb);
        }
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        if ((fi->flags & O_ACCMODE) != O_RDONLY) {
                fuse_reply_err(req, EROFS);
                return;
        }
        if (ino == INO_IMAGE) {
                fi->keep_cache = 1;
                fi->fh = 0;
                fuse_reply_open(req, fi);
                return;
        }
        if (ino == INO_STATS) {
                struct stats_buf *sb = calloc(1, sizeof(*sb));
                FILE *f;

                if (!sb || !(f = open_memstream(&sb->data, &sb->len))) {
                        free(sb);
                        fuse_reply_err(req, ENOMEM);
                        return;
                }
                ib_blockdev_stats(g.bd, f);
                fclose(f);
                sb->refs = 1;   /* the open file's, dropped by release */
                fi->direct_io = 1;
                fi->fh = (uint64_t)(uintptr_t)sb;
                if (fuse_reply_open(req, fi) != 0)
                        stats_unref(sb); /* the opener was interrupted: no release will come */
                return;
        }
        fuse_reply_err(req, ino == INO_ROOT ? EISDIR : ENOENT);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi) {
        struct iovec small[8], *iov = small;
        size_t n_iov = 0, pieces;
        ssize_t r;

        if (fi->fh) {
                struct stats_buf *sb = stats_ref(fi->fh);

                if ((size_t)off >= sb->len)
                        size = 0;
                else if (size > sb->len - (size_t)off)
                        size = sb->len - (size_t)off;
                fuse_reply_buf(req, size ? sb->data + off : NULL, size);
                stats_unref(sb);
                return;
        }
        pieces = ib_blockdev_pieces(g.bd, size, (uint64_t)off);
        if (pieces > sizeof(small) / sizeof(small[0]) && !(iov = malloc(pieces * sizeof(*iov)))) {
                fuse_reply_err(req, ENOMEM);
                return;
        }
        r = ib_blockdev_pread_held(g.bd, size, (uint64_t)off, iov, &n_iov);
        if (r < 0)
                fuse_reply_err(req, (int)-r);
        else if (r == 0)
                fuse_reply_buf(req, NULL, 0);
        else {
                /* The kernel has copied the bytes when this returns: then the slots may go. */
                fuse_reply_iov(req, iov, (int)n_iov);
                ib_blockdev_release(g.bd, size, (uint64_t)off);
        }
        if (iov != small)
                free(iov);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi) {
        if (fi->fh)
                stats_unref((struct stats_buf *)(uintptr_t)fi->fh);
        fuse_reply_err(req, 0);
}

/*
 * SIGUSR1: statistics to the log.  The thread can be cancelled only while
 * it waits (main cancels and joins it before the block device goes), never
 * while it holds the block device's lock or the log.
 */
static void *signal_thread(void *p) {
        sigset_t *set = p;

        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
        for (;;) {
                char *text = NULL, *save = NULL;
                size_t len = 0;
                FILE *f;
                int sig, r;

                pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
                r = sigwait(set, &sig);
                pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
                if (r != 0)
                        continue;
                f = open_memstream(&text, &len);
                if (!f)
                        continue;
                ib_blockdev_stats(g.bd, f);
                fclose(f);
                for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                        log_line(NULL, line);
                free(text);
        }
        return NULL;
}

/*
 * The kernel reads ahead 128 KiB on a FUSE mount, in 128 KiB requests.  With
 * a larger window its requests grow to 1 MiB (libfuse's max_pages): an
 * eighth of the round trips through /dev/fuse for a sequential read.  The
 * window is the mount's bdi (/sys/class/bdi/MAJ:MIN, root only), and the
 * kernel sets it while it processes the INIT reply; so wait for the mount to
 * answer, then set it.
 */
static void *readahead_thread(void *p) {
        char path[96], val[24];
        struct stat st;
        int fd;

        if (!g.mountpoint || stat(g.mountpoint, &st) < 0)
                return NULL;
        snprintf(path, sizeof(path), "/sys/class/bdi/%u:%u/read_ahead_kb", major(st.st_dev), minor(st.st_dev));
        snprintf(val, sizeof(val), "%u\n", g.kernel_readahead_kb);
        fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, val, strlen(val)) < 0) {
                char msg[192];

                snprintf(msg, sizeof(msg), "note: cannot set the kernel's readahead for the mount (%s: %m); sequential reads are slower", path);
                log_line(NULL, msg);
        }
        if (fd >= 0)
                close(fd);
        return NULL;
}

/* Runs in the daemon (after the fork): threads start here. */
static sigset_t usr1_set;

static void fs_init(void *userdata, struct fuse_conn_info *conn) {
        struct ib_err e = {};

        /* SIGUSR1 is blocked in every thread (main blocked it before any was made): this one takes it. */
        g.sig_started = pthread_create(&g.sig_thread, NULL, signal_thread, &usr1_set) == 0;
        if (ib_blockdev_start(g.bd, &e) < 0) {
                log_line(NULL, e.msg);
                exit(1);
        }
        if (g.prefetch_profile && g.m->n_profile)
                ib_blockdev_prefetch(g.bd, g.m->profile, g.m->n_profile);
        if (g.kernel_readahead_kb && geteuid() == 0 && pthread_create(&g.ra_thread, NULL, readahead_thread, NULL) == 0)
                pthread_detach(g.ra_thread);
}

static const struct fuse_lowlevel_ops ops = {
        .init = fs_init,
        .lookup = fs_lookup,
        .getattr = fs_getattr,
        .readdir = fs_readdir,
        .open = fs_open,
        .read = fs_read,
        .release = fs_release,
};

/* ---- setup ------------------------------------------------------------------------ */

static void usage(FILE *f) {
        fprintf(f,
                "Usage: %s [OPTIONS] MANIFEST MOUNTPOINT\n"
                "\n"
                "Mount the image a signed inetboot manifest describes, read-only, as\n"
                "MOUNTPOINT/<image name>.  Blocks are fetched lazily over HTTP(S) from the\n"
                "manifest's mirrors and every one is checked against the manifest's SHA-256.\n"
                "MANIFEST is a file or an http(s) URL; its signature is MANIFEST.sig.\n"
                "\n"
                "  -K, --keys DIR        trusted public keys (default %s); root keys in DIR/roots/\n"
                "      --keyring FILE|URL  publisher keys the roots certify (default, when DIR/roots/\n"
                "                        has keys: " IB_KEYRING_FILE " beside MANIFEST, if there is one)\n"
                "      --sig FILE|URL    the manifest's signature (default MANIFEST.sig)\n"
                "      --insecure        accept an unsigned manifest (NOT verified against keys)\n"
                "      --allow-rollback  accept a lower serial than the cache's trust state has seen\n"
                "                        for this publisher and image (and lower the floor to it)\n"
                "  -m, --mirror URL      a raw image mirror, preferred to the manifest's (repeatable)\n"
                "      --store URL       a block store (URL/xx/<sha256>.zst), as inetboot-sign --blocks\n"
                "                        writes it (repeatable)\n"
                "      --no-manifest-mirrors  only the --mirror and --store URLs\n"
                "  -c, --cache DIR       persistent block cache (blocks by hash, re-verified when read)\n"
                "      --cache-size MiB  bound of the persistent cache; least recently used blocks go\n"
                "      --cache-fill S|off  after S seconds without a read (default 30), fetch the\n"
                "                        rest of the image into the cache, up to its bound, so the\n"
                "                        next mount needs no network; off: cache only what is read\n"
                "      --ram-cache MiB   RAM cache size (default 64, or a sixteenth of the RAM\n"
                "                        when that is less, at least 16)\n"
                "  -j, --parallel N      requests in flight per mirror (default 4)\n"
                "      --readahead N     blocks to read ahead on sequential access (default 8, 0 = off)\n"
                "      --kernel-readahead KiB  the kernel's readahead on the mount, as root (default\n"
                "                        1024; 0 = the kernel's own, 128)\n"
                "      --timeout S       seconds a read waits for a mirror before EIO (default 120)\n"
                "      --no-profile      do not prefetch the manifest's boot profile\n"
                "      --record-profile FILE  write the blocks read, in the order first asked for,\n"
                "                        one index per line (a boot profile for inetboot-sign --profile)\n"
                "      --ca-file FILE    extra CA certificates for HTTPS\n"
                "      --log FILE        append log lines to FILE (default: stderr with -f, else syslog)\n"
                "      --root-daemon     run as a root-storage daemon: argv[0] '@', mlockall,\n"
                "                        PR_SET_IO_FLUSHER (survives switch-root and shutdown sweeps)\n"
                "  -f, --foreground      do not daemonize\n"
                "  -d, --debug           FUSE debug output (implies -f)\n"
                "  -o OPT[,OPT...]       FUSE mount options\n"
                "  -h, --help            this text\n"
                "\n"
                "Statistics: MOUNTPOINT/" STATS_NAME ", or SIGUSR1 (to the log).\n",
                prog, IB_KEYS_DIR);
}

/*
 * Locked, every page of every mapping is in RAM, a thread's whole stack too:
 * libfuse's workers and libcurl's resolver threads with glibc's default 8 MiB
 * stacks took 88 MB of a 384 MiB live system, and the kernel OOM-killed us.
 * Our threads, libfuse's and libcurl's all run well within 512 KiB.
 */
#define ROOT_DAEMON_STACK ((size_t)512 << 10)

/* 64 MiB, or a sixteenth of the RAM when that is less (24 MiB of 384), but 16 MiB at least: readahead needs room. */
static size_t default_ram_cache(void) {
        long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        uint64_t sixteenth = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page / 16 : UINT64_MAX;

        return sixteenth >= (64u << 20) ? (size_t)64 << 20 : sixteenth < (16u << 20) ? (size_t)16 << 20 : (size_t)sixteenth;
}

/*
 * The daemon runs in / (fuse_daemonize): a relative path it was given would
 * name another file there (a relative --ca-file made every HTTPS fetch fail).
 * Each path option is made absolute at once; URLs stay as they are.
 */
static char *abs_paths[8];
static size_t n_abs_paths;

static bool make_absolute(const char *what, const char **path) {
        char *p;
        int r;

        if (!*path || (*path)[0] == '/' || ib_is_url(*path))
                return true;
        r = n_abs_paths < ELEMENTSOF(abs_paths) ? ib_path_absolute(*path, &p) : -E2BIG;
        if (r < 0) {
                fprintf(stderr, "%s: %s %s: cannot make the path absolute: %s\n", prog, what, *path, strerror(-r));
                return false;
        }
        abs_paths[n_abs_paths++] = p;
        *path = p;
        return true;
}

static void become_root_daemon(char **argv) {
        pthread_attr_t attr;

        /* systemd spares processes whose argv[0][0] is '@' at switch-root and in its shutdown killing spree. */
        argv[0][0] = '@';
        if (pthread_attr_init(&attr) == 0) {
                if (pthread_attr_setstacksize(&attr, ROOT_DAEMON_STACK) != 0 || pthread_setattr_default_np(&attr) != 0)
                        log_line(NULL, "warning: cannot make thread stacks smaller; locked, they take 8 MiB each");
                pthread_attr_destroy(&attr);
        }
        if (mlockall(MCL_CURRENT | MCL_FUTURE) < 0)
                log_line(NULL, "warning: mlockall failed; the daemon may be paged out under memory pressure");
        if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) < 0)
                log_line(NULL, "warning: PR_SET_IO_FLUSHER failed (needs CAP_SYS_RESOURCE and Linux 5.6)");
}

/*
 * Old and expired manifests (docs/signatures.md): the expiry is judged by
 * the clock, never before what the cache's trust state has seen signed; the
 * rollback floor of this publisher's image lives in that state too.  Without
 * a cache only the expiry is judged; without a signature nothing.
 */
static int judge_manifest(const struct ib_manifest *m, const uint8_t *key_id, const struct ib_keyring *kr, bool certified,
                          const char *cache_dir, bool allow_rollback) {
        _cleanup_(ib_state_freep) struct ib_state *st = NULL;
        struct ib_state_notes n;
        struct ib_err e = {};
        char t1[40], t2[40];

        if (!key_id)
                return 0;
        if (cache_dir && ib_state_load(cache_dir, &st, &e) < 0) {
                fprintf(stderr, "%s: %s (remove it to forget every floor it holds)\n", prog, e.msg);
                return -1;
        }
        if (ib_state_judge(st, key_id, m, (uint64_t)time(NULL), allow_rollback ? IB_STATE_ALLOW_ROLLBACK : 0, &n, &e) < 0 ||
            ib_keyring_judge(st, kr, key_id, certified, m, allow_rollback ? IB_STATE_ALLOW_ROLLBACK : 0, &n, &e) < 0) {
                fprintf(stderr, "%s: %s\n", prog, e.msg);
                if (e.code == IB_STATE_EROLLBACK || e.code == IB_KEYRING_EOLDER)
                        fprintf(stderr, "%s: to boot it anyway, as the machine's owner: --allow-rollback\n", prog);
                return -1;
        }
        if (n.clock_behind)
                fprintf(stderr, "%s: warning: the clock (%s) is behind what was signed (%s); judging expiry by the latter\n",
                        prog, ib_state_time(n.clock, t1), ib_state_time(n.now, t2));
        if (n.rolled_back)
                fprintf(stderr, "%s: warning: --allow-rollback: serial %" PRIu64 " accepted below serial %" PRIu64 "\n", prog,
                        m->serial, n.old_serial);
        if (n.keyring_rolled_back)
                fprintf(stderr, "%s: warning: --allow-rollback: keyring version %" PRIu64 " accepted below version %" PRIu64 "\n",
                        prog, kr->version, n.keyring_old_version);
        if (st && n.changed && ib_state_save(st, cache_dir, &e) < 0) {
                fprintf(stderr, "%s: %s\n", prog, e.msg);
                return -1;
        }
        return 0;
}

/*
 * The keyring (docs/signatures.md, "The life of a key"): @src (--keyring), or
 * inetboot.keyring beside the manifest, only when @keys has root keys; none
 * there is no error (the folder's keys alone then).  Verified by a root key.
 */
static int load_keyring(const char *keys, const char *manifest_src, const char *src, const char *ca_file,
                        struct ib_keyring **ret) {
        _cleanup_(freep) char *text = NULL, *sig = NULL, *dflt = NULL, *sig_src = NULL;
        size_t len, sig_len;
        struct ib_err e = {};
        int r;

        *ret = NULL;
        if (ib_keyring_n_roots(keys) == 0) {
                if (src)
                        fprintf(stderr, "%s: --keyring %s: no root keys in %s/" IB_KEYRING_ROOTS "/ to check it with\n", prog, src, keys);
                return src ? -1 : 0;
        }
        if (!src) {
                const char *q = strchr(manifest_src, '?'), *slash;

                /* the manifest's directory: up to its last '/' (before a query) */
                for (slash = q ? q : manifest_src + strlen(manifest_src); slash > manifest_src && slash[-1] != '/'; slash--)
                        ;
                if (asprintf(&dflt, "%.*s" IB_KEYRING_FILE, (int)(slash - manifest_src), manifest_src) < 0)
                        return -1;
        }
        if (asprintf(&sig_src, "%s.sig", src ?: dflt) < 0)
                return -1;
        r = ib_fetch(src ?: dflt, ca_file, IB_KEYRING_MAX_BYTES, &text, &len, &e);
        if (r == -ENOENT && !src)
                return 0;
        if (r < 0) {
                fprintf(stderr, "%s: cannot read the keyring %s\n", prog, e.msg);
                return -1;
        }
        if (ib_fetch(sig_src, ca_file, IB_SIG_MAX_BYTES, &sig, &sig_len, &e) < 0) {
                fprintf(stderr, "%s: cannot read the keyring's signature %s\n", prog, e.msg);
                return -1;
        }
        if (ib_keyring_verify(keys, text, len, sig, sig_len, ret, &e) < 0) {
                fprintf(stderr, "%s: %s: %s\n", prog, src ?: dflt, e.msg);
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        enum { O_KEYRING = 304, O_ALLOW_ROLLBACK = 303, O_CACHE_FILL = 302, O_STORE = 301, O_CACHE_SIZE = 300, O_SIG = 256, O_INSECURE, O_NO_MANIFEST_MIRRORS, O_RAM, O_READAHEAD, O_TIMEOUT, O_NO_PROFILE, O_RECORD, O_KERNEL_RA, O_CA, O_LOG, O_ROOT };
        static const struct option options[] = {
                { "keys", required_argument, NULL, 'K' },
                { "sig", required_argument, NULL, O_SIG },
                { "insecure", no_argument, NULL, O_INSECURE },
                { "allow-rollback", no_argument, NULL, O_ALLOW_ROLLBACK },
                { "keyring", required_argument, NULL, O_KEYRING },
                { "mirror", required_argument, NULL, 'm' },
                { "no-manifest-mirrors", no_argument, NULL, O_NO_MANIFEST_MIRRORS },
                { "store", required_argument, NULL, O_STORE },
                { "cache", required_argument, NULL, 'c' },
                { "ram-cache", required_argument, NULL, O_RAM },
                { "cache-size", required_argument, NULL, O_CACHE_SIZE },
                { "cache-fill", required_argument, NULL, O_CACHE_FILL },
                { "parallel", required_argument, NULL, 'j' },
                { "readahead", required_argument, NULL, O_READAHEAD },
                { "kernel-readahead", required_argument, NULL, O_KERNEL_RA },
                { "timeout", required_argument, NULL, O_TIMEOUT },
                { "no-profile", no_argument, NULL, O_NO_PROFILE },
                { "record-profile", required_argument, NULL, O_RECORD },
                { "ca-file", required_argument, NULL, O_CA },
                { "log", required_argument, NULL, O_LOG },
                { "root-daemon", no_argument, NULL, O_ROOT },
                { "foreground", no_argument, NULL, 'f' },
                { "debug", no_argument, NULL, 'd' },
                { "help", no_argument, NULL, 'h' },
                {}
        };
        struct ib_blockdev_opts bo = { .log = log_line, .cache_fill = true, .cache_fill_idle = 30 };
        const char *keys = IB_KEYS_DIR, *sig_src = NULL, *manifest_src, *mountpoint, *keyring_src = NULL;
        _cleanup_(ib_keyring_freep) struct ib_keyring *kr = NULL;
        bool certified = false;
        char *mirrors[128], *fuse_opts = NULL, *text = NULL, *sig = NULL, *sig_default = NULL;
        uint8_t key_id[32] = {};
        bool is_store[128];
        size_t n_mirrors = 0, text_len = 0, sig_len = 0;
        bool insecure = false, manifest_mirrors = true, debug = false, root_daemon = false, allow_rollback = false;
        struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
        struct ib_err e = {};
        struct fuse_session *se;
        uint64_t v;
        int c, r, ret = 1;

        while ((c = getopt_long(argc, argv, "K:m:c:j:o:fdh", options, NULL)) >= 0)
                switch (c) {
                case 'K': keys = optarg; break;
                case O_SIG: sig_src = optarg; break;
                case O_INSECURE: insecure = true; break;
                case 'm':
                case O_STORE:
                        /* Mirrors and stores keep the order they were given in: it is the preference. */
                        if (n_mirrors >= ELEMENTSOF(mirrors)) {
                                fprintf(stderr, "%s: too many --mirror and --store options\n", prog);
                                return 2;
                        }
                        is_store[n_mirrors] = c == O_STORE;
                        mirrors[n_mirrors++] = optarg;
                        break;
                case O_NO_MANIFEST_MIRRORS: manifest_mirrors = false; break;
                case 'c': bo.cache_dir = optarg; break;
                case O_CACHE_SIZE:
                        if (ib_parse_u64(optarg, strlen(optarg), &v) < 0 || v == 0 || v > (UINT64_C(1) << 24)) {
                                fprintf(stderr, "%s: bad --cache-size '%s' (MiB)\nTry '%s --help'.\n", prog, optarg, prog);
                                return 2;
                        }
                        bo.cache_max = v << 20;
                        break;
                case O_CACHE_FILL: {
                        long secs;

                        if (ib_parse_fill(optarg, &secs) < 0) {
                                fprintf(stderr, "%s: bad --cache-fill '%s' (seconds up to %d, or off)\nTry '%s --help'.\n",
                                        prog, optarg, IB_FILL_MAX_SECS, prog);
                                return 2;
                        }
                        bo.cache_fill = secs >= 0;
                        if (secs >= 0)
                                bo.cache_fill_idle = (unsigned)secs;
                        break;
                }
                case O_RAM:
                case 'j':
                case O_READAHEAD:
                case O_KERNEL_RA:
                case O_TIMEOUT:
                        if (ib_parse_u64(optarg, strlen(optarg), &v) < 0 || v > 1000000 || (v == 0 && c != O_READAHEAD && c != O_KERNEL_RA)) {
                                fprintf(stderr, "%s: bad number '%s'\nTry '%s --help'.\n", prog, optarg, prog);
                                return 2;
                        }
                        if (c == O_RAM)
                                bo.ram_cache = (size_t)v << 20;
                        else if (c == 'j')
                                bo.parallel = (unsigned)v;
                        else if (c == O_READAHEAD) {
                                bo.readahead = (unsigned)v;
                                bo.no_readahead = v == 0;
                        } else if (c == O_KERNEL_RA)
                                g.kernel_readahead_kb = (unsigned)v;
                        else
                                bo.deadline = (unsigned)v;
                        break;
                case O_NO_PROFILE: g.prefetch_profile = false; break;
                case O_RECORD: bo.record_profile = optarg; break;
                case O_CA: bo.ca_file = optarg; break;
                case O_LOG:
                        g.log_file = fopen(optarg, "ae");
                        if (!g.log_file) {
                                fprintf(stderr, "%s: cannot open log %s: %m\n", prog, optarg);
                                return 1;
                        }
                        break;
                case O_ROOT: root_daemon = true; break;
                case O_ALLOW_ROLLBACK: allow_rollback = true; break;
                case O_KEYRING: keyring_src = optarg; break;
                case 'f': g.foreground = true; break;
                case 'd': debug = g.foreground = true; break;
                case 'o':
                        if (!fuse_opts)
                                fuse_opts = strdup(optarg);
                        else {
                                char *n;

                                if (asprintf(&n, "%s,%s", fuse_opts, optarg) < 0)
                                        return 1;
                                free(fuse_opts);
                                fuse_opts = n;
                        }
                        break;
                case 'h': usage(stdout); return 0;
                default: fprintf(stderr, "Try '%s --help'.\n", prog); return 2;
                }
        if (optind + 2 != argc) {
                fprintf(stderr, "%s: expected MANIFEST and MOUNTPOINT\nTry '%s --help'.\n", prog, prog);
                return 2;
        }
        manifest_src = argv[optind];
        mountpoint = argv[optind + 1];
        g.mountpoint = realpath(mountpoint, NULL); /* the daemon runs in / */
        if (!make_absolute("MANIFEST", &manifest_src) || !make_absolute("--keys", &keys) || !make_absolute("--sig", &sig_src) ||
            !make_absolute("--cache", &bo.cache_dir) || !make_absolute("--record-profile", &bo.record_profile) ||
            !make_absolute("--ca-file", &bo.ca_file) || !make_absolute("--keyring", &keyring_src))
                return 1;
        /*
         * Request buffers (up to max_run blocks) are allocated and freed all the
         * time; above glibc's mmap threshold each one would be fresh pages, every
         * page a fault on first touch (perf showed a third of the time there).
         * Keep them on the heap so that freed memory is reused.
         */
        mallopt(M_MMAP_THRESHOLD, 64 << 20);
        mallopt(M_TRIM_THRESHOLD, 128 << 20);
        sigemptyset(&usr1_set);
        sigaddset(&usr1_set, SIGUSR1);
        pthread_sigmask(SIG_BLOCK, &usr1_set, NULL);
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                fprintf(stderr, "%s: cannot initialise libcurl\n", prog);
                return 1;
        }

        /* 1. The manifest, its signature, the trusted keys. */
        if (ib_fetch(manifest_src, bo.ca_file, IB_MANIFEST_MAX_BYTES, &text, &text_len, &e) < 0) {
                fprintf(stderr, "%s: cannot read the manifest %s\n", prog, e.msg);
                goto out;
        }
        if (insecure)
                fprintf(stderr, "%s: WARNING: --insecure: the manifest's signature is NOT checked; "
                        "blocks are checked against a manifest nobody vouched for\n", prog);
        else {
                if (!sig_src) {
                        if (asprintf(&sig_default, "%s.sig", manifest_src) < 0)
                                goto out;
                        sig_src = sig_default;
                }
                if (ib_fetch(sig_src, bo.ca_file, IB_SIG_MAX_BYTES, &sig, &sig_len, &e) < 0) {
                        fprintf(stderr, "%s: cannot read the manifest's signature %s\n", prog, e.msg);
                        goto out;
                }
                if (load_keyring(keys, manifest_src, keyring_src, bo.ca_file, &kr) < 0)
                        goto out;
                if (ib_verify_trusted(keys, kr, text, text_len, sig, sig_len, key_id, &certified, &e) < 0) {
                        fprintf(stderr, "%s: %s: %s\n", prog, sig_src, e.msg);
                        goto out;
                }
        }
        if (ib_manifest_parse(text, text_len, &g.m, &e) < 0) {
                fprintf(stderr, "%s: %s:%u: %s\n", prog, manifest_src, e.line, e.msg);
                goto out;
        }
        if (asprintf(&g.image_path, "/%s", g.m->name) < 0 || strcmp(g.m->name, STATS_NAME) == 0)
                goto out;
        if (judge_manifest(g.m, insecure ? NULL : key_id, kr, certified, bo.cache_dir, allow_rollback) < 0)
                goto out;

        /* 2. The block device and its mirrors: command line first, then the manifest's. */
        if (!bo.ram_cache)
                bo.ram_cache = default_ram_cache();
        if (ib_blockdev_new(g.m, &bo, &g.bd, &e) < 0) {
                fprintf(stderr, "%s: %s\n", prog, e.msg);
                goto out;
        }
        for (size_t i = 0; i < n_mirrors; i++)
                if ((is_store[i] ? ib_blockdev_add_store(g.bd, mirrors[i], &e) : ib_blockdev_add_mirror(g.bd, mirrors[i], &e)) < 0) {
                        fprintf(stderr, "%s: %s\n", prog, e.msg);
                        goto out;
                }
        for (size_t i = 0; manifest_mirrors && i < g.m->n_urls; i++)
                if (ib_blockdev_add_mirror(g.bd, g.m->urls[i], &e) < 0) {
                        fprintf(stderr, "%s: %s\n", prog, e.msg);
                        goto out;
                }
        for (size_t i = 0; manifest_mirrors && i < g.m->n_stores; i++)
                if (ib_blockdev_add_store(g.bd, g.m->stores[i], &e) < 0) {
                        fprintf(stderr, "%s: %s\n", prog, e.msg);
                        goto out;
                }
        /* Know now, on the terminal, whether any mirror can work at all. */
        {
                bool fg = g.foreground;

                g.foreground = true; /* probe messages go to the terminal */
                r = ib_blockdev_probe(g.bd, &e);
                g.foreground = fg;
        }
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", prog, e.msg);
                goto out;
        }

        /* 3. Mount, daemonize once the mount is ready, serve. */
        if (fuse_opt_add_arg(&args, argv[0]) < 0 || (debug && fuse_opt_add_arg(&args, "-d") < 0) ||
            fuse_opt_add_arg(&args, "-o") < 0 ||
            fuse_opt_add_arg(&args, getuid() == 0 ? "ro,default_permissions,allow_other,fsname=inetboot,subtype=inetboot"
                                                  : "ro,default_permissions,fsname=inetboot,subtype=inetboot") < 0 ||
            (fuse_opts && (fuse_opt_add_arg(&args, "-o") < 0 || fuse_opt_add_arg(&args, fuse_opts) < 0)))
                goto out;
        se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
        if (!se) {
                fprintf(stderr, "%s: cannot set up FUSE (bad -o option?)\n", prog);
                goto out;
        }
        if (fuse_session_mount(se, mountpoint) != 0) {
                fprintf(stderr, "%s: cannot mount on %s (does it exist? is /dev/fuse there and fuse loaded?)\n", prog, mountpoint);
                fuse_session_destroy(se);
                goto out;
        }
        if (fuse_daemonize(g.foreground) != 0) {
                fuse_session_unmount(se);
                fuse_session_destroy(se);
                goto out;
        }
        /* After the fork: memory locks are not inherited by a child. */
        if (root_daemon)
                become_root_daemon(argv);
        if (!g.foreground && !g.log_file)
                openlog(prog, LOG_PID, LOG_DAEMON);
        if (fuse_set_signal_handlers(se) != 0) {
                fuse_session_unmount(se);
                fuse_session_destroy(se);
                goto out;
        }
        ret = fuse_session_loop_mt(se, 0) == 0 ? 0 : 1;
        fuse_remove_signal_handlers(se);
        fuse_session_unmount(se);
        fuse_session_destroy(se);
out:
        if (g.sig_started) {
                pthread_cancel(g.sig_thread);
                pthread_join(g.sig_thread, NULL);
        }
        ib_blockdev_free(g.bd);
        ib_manifest_free(g.m);
        fuse_opt_free_args(&args);
        free(g.image_path);
        free((char *)g.mountpoint);
        free(fuse_opts);
        free(text);
        free(sig);
        free(sig_default);
        for (size_t i = 0; i < n_abs_paths; i++)
                free(abs_paths[i]);
        if (g.log_file)
                fclose(g.log_file);
        return ret;
}
