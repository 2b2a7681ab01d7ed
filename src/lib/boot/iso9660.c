/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iso9660.c: a strict, bounded ISO 9660 (ECMA-119) directory walker with
 * just enough SUSP/Rock Ridge (IEEE P1281/P1282) to match names; see
 * iso9660.h.  One sector of directory and one of continuation area are in
 * memory at a time.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>

#include "iso9660.h"

#define SECTOR IB_ISO9660_SECTOR
#define NO_BLOCK UINT64_MAX
#define RR_NAME_MAX 255u

/* Volume descriptors (ECMA-119 8). */
#define VD_FIRST_SECTOR 16u
#define VD_PRIMARY 1
#define VD_TERMINATOR 255
#define PVD_VOLUME_ID 40
#define PVD_VOLUME_SPACE 80
#define PVD_BLOCK_SIZE 128
#define PVD_ROOT 156

/* Directory records (ECMA-119 9.1). */
#define DR_EAR_LEN 1
#define DR_EXTENT 2
#define DR_SIZE 10
#define DR_FLAGS 25
#define DR_UNIT_SIZE 26
#define DR_GAP 27
#define DR_NAME_LEN 32
#define DR_NAME 33
#define DR_MIN 34               /* the fixed part and a one-byte name */

#define FLAG_DIRECTORY 0x02
#define FLAG_ASSOCIATED 0x04
#define FLAG_MULTI_EXTENT 0x80

/* Rock Ridge NM flags. */
#define NM_CURRENT 0x02
#define NM_PARENT 0x04

struct walk {
        ib_iso9660_read_fn rd;
        void *ctx;
        struct ib_err *err;
        uint64_t image_size;            /* UINT64_MAX when unknown */
        uint64_t volume_end;            /* bytes, from the PVD */
        uint64_t root_offset;
        uint32_t root_size;
        bool susp;                      /* the root's "." record has "SP" */
        unsigned susp_skip;
        unsigned records, ce_areas;     /* budgets spent */
        uint64_t ce_block;              /* block held in ce[], or NO_BLOCK */
        uint8_t sec[SECTOR];
        uint8_t ce[SECTOR];
};

struct record {
        uint64_t offset;                /* bytes: extent plus extended attribute record */
        uint32_t size;
        uint8_t flags;
        bool interleaved;
        const uint8_t *name;
        size_t name_len;
        const uint8_t *su;              /* System Use area after the SP skip */
        size_t su_len;
};

/* What the System Use entries of one record say. */
struct rr {
        bool nm, nm_dot;                /* has a name; it is "." or ".." */
        size_t name_len;                /* may exceed RR_NAME_MAX: then nothing matches */
        char name[RR_NAME_MAX];
        bool px;
        uint32_t mode;
        bool symlink, zisofs, relocated, child_link;
        uint32_t child_block;
};

static uint32_t le32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p) {
        return (uint16_t)(p[0] | p[1] << 8);
}

static char printable(uint8_t c) {
        return c >= 0x20 && c < 0x7f ? (char)c : '?';
}

static char ascii_lower(char c) {
        return c >= 'A' && c <= 'Z' ? (char)(c + 'a' - 'A') : c;
}

/* -ENOMEM and friends from the callback keep their code; a short read is returned as a count. */
static ssize_t read_at(struct walk *w, void *buf, size_t len, uint64_t off, const char *what) {
        ssize_t n;

        if (off > w->image_size || len > w->image_size - off)
                return ib_err_set(w->err, -EBADMSG, 0,
                                  "%s at byte %" PRIu64 " lies beyond the end of the image (%" PRIu64 " bytes)",
                                  what, off, w->image_size);
        n = w->rd(w->ctx, buf, len, off);
        if (n < 0)
                return ib_err_set(w->err, n < -4095 ? -EIO : (int)n, 0, "reading %s at byte %" PRIu64 ": %s", what, off,
                                  strerror(n < -4095 ? EIO : (int)-n));
        if ((size_t)n > len)
                return ib_err_set(w->err, -EIO, 0, "reading %s at byte %" PRIu64 ": the read function returned too much", what,
                                  off);
        return n;
}

static int read_exact(struct walk *w, void *buf, size_t len, uint64_t off, const char *what) {
        ssize_t n = read_at(w, buf, len, off, what);

        if (n < 0)
                return (int)n;
        if ((size_t)n != len)
                return ib_err_set(w->err, -EBADMSG, 0, "image truncated: %s at byte %" PRIu64 ": %zd of %zu bytes", what, off, n,
                                  len);
        return 0;
}

/* @size bytes at @off inside the volume (and the image, where its size is known)? */
static bool extent_ok(const struct walk *w, uint64_t off, uint64_t size) {
        uint64_t end = w->volume_end < w->image_size ? w->volume_end : w->image_size;

        return off <= end && size <= end - off;
}

/* Find the primary volume descriptor, leave it in w->sec and take the volume size and root from it. */
static int read_pvd(struct walk *w) {
        const uint8_t *root = w->sec + PVD_ROOT;
        unsigned block_size;
        uint32_t extent;
        ssize_t n;
        int r;

        for (unsigned i = 0;; i++) {
                uint64_t off = (uint64_t)(VD_FIRST_SECTOR + i) * SECTOR;

                if (i >= IB_ISO9660_MAX_DESCRIPTORS)
                        return ib_err_set(w->err, -EINVAL, 0,
                                          "not an ISO 9660 image: no primary volume descriptor among the first %u",
                                          IB_ISO9660_MAX_DESCRIPTORS);
                if (i == 0) {
                        n = read_at(w, w->sec, SECTOR, off, "the first volume descriptor");
                        if (n < 0)
                                return (int)n;
                        if (n != SECTOR)
                                return ib_err_set(w->err, -EINVAL, 0, "not an ISO 9660 image: only %" PRIu64 " bytes",
                                                  off + (uint64_t)n);
                } else {
                        r = read_exact(w, w->sec, SECTOR, off, "a volume descriptor");
                        if (r < 0)
                                return r;
                }
                if (memcmp(w->sec + 1, "CD001", 5) != 0) {
                        if (i == 0)
                                return ib_err_set(w->err, -EINVAL, 0,
                                                  "not an ISO 9660 image: no \"CD001\" volume descriptor at sector %u",
                                                  VD_FIRST_SECTOR);
                        return ib_err_set(w->err, -EBADMSG, 0, "volume descriptor at sector %u has no \"CD001\" identifier",
                                          VD_FIRST_SECTOR + i);
                }
                if (w->sec[0] == VD_TERMINATOR)
                        return ib_err_set(w->err, -EINVAL, 0,
                                          "not an ISO 9660 image: no primary volume descriptor before the terminator");
                if (w->sec[0] == VD_PRIMARY)
                        break;
        }
        if (w->sec[6] != 1)
                return ib_err_set(w->err, -EBADMSG, 0, "primary volume descriptor version %u, expected 1", w->sec[6]);
        block_size = le16(w->sec + PVD_BLOCK_SIZE);
        if (block_size != SECTOR)
                return ib_err_set(w->err, -EOPNOTSUPP, 0, "logical block size %u not supported (only %u)", block_size, SECTOR);
        w->volume_end = (uint64_t)le32(w->sec + PVD_VOLUME_SPACE) * SECTOR;
        if (root[0] != DR_MIN || root[DR_NAME_LEN] != 1 || root[DR_NAME] != 0 || !(root[DR_FLAGS] & FLAG_DIRECTORY))
                return ib_err_set(w->err, -EBADMSG, 0, "malformed root directory record in the primary volume descriptor");
        extent = le32(root + DR_EXTENT);
        w->root_offset = ((uint64_t)extent + root[DR_EAR_LEN]) * SECTOR;
        w->root_size = le32(root + DR_SIZE);
        return 0;
}

/*
 * Parse the directory record at @p, @avail bytes before the end of its
 * sector (p[0] != 0).  Returns its length.
 */
static int parse_record(struct walk *w, const uint8_t *p, size_t avail, bool susp, struct record *rec) {
        size_t len = p[0], name_len, su;

        if (len < DR_MIN || len > avail)
                return ib_err_set(w->err, -EBADMSG, 0, "directory record of %zu bytes %s", len,
                                  len < DR_MIN ? "is too short" : "crosses the end of its sector");
        name_len = p[DR_NAME_LEN];
        if (name_len == 0 || name_len > len - DR_NAME)
                return ib_err_set(w->err, -EBADMSG, 0, "directory record of %zu bytes with a name of %zu bytes", len, name_len);
        *rec = (struct record) {
                .offset = ((uint64_t)le32(p + DR_EXTENT) + p[DR_EAR_LEN]) * SECTOR,
                .size = le32(p + DR_SIZE),
                .flags = p[DR_FLAGS],
                .interleaved = p[DR_UNIT_SIZE] != 0 || p[DR_GAP] != 0,
                .name = p + DR_NAME,
                .name_len = name_len,
        };
        su = DR_NAME + name_len + !(name_len & 1) + (susp ? w->susp_skip : 0);
        if (su < len) {
                rec->su = p + su;
                rec->su_len = len - su;
        }
        return (int)len;
}

static bool is_dot(const struct record *rec) {
        return rec->name_len == 1 && (rec->name[0] == 0 || rec->name[0] == 1);
}

static bool sig(const uint8_t *e, const char s[2]) {
        return e[0] == (uint8_t)s[0] && e[1] == (uint8_t)s[1];
}

/* Walk the System Use entries of one record into @rr (zeroed), following continuation areas. */
static int parse_susp(struct walk *w, const uint8_t *area, size_t len, struct rr *rr) {
        unsigned hops = 0;

        for (;;) {
                bool ce = false;
                uint32_t ce_block = 0, ce_off = 0, ce_len = 0;

                for (size_t pos = 0; len - pos >= 4;) {
                        const uint8_t *e = area + pos;
                        size_t elen = e[2];

                        if (e[0] == 0 && e[1] == 0 && elen == 0)
                                break;          /* zero padding */
                        if (elen < 4 || elen > len - pos)
                                return ib_err_set(w->err, -EBADMSG, 0,
                                                  "malformed System Use entry \"%c%c\" of %zu bytes (%zu left)",
                                                  printable(e[0]), printable(e[1]), elen, len - pos);
                        pos += elen;
                        if (sig(e, "ST"))
                                break;
                        if (sig(e, "CE")) {
                                if (elen < 28)
                                        return ib_err_set(w->err, -EBADMSG, 0, "System Use entry \"CE\" of %zu bytes", elen);
                                ce = true;
                                ce_block = le32(e + 4);
                                ce_off = le32(e + 12);
                                ce_len = le32(e + 20);
                        } else if (sig(e, "NM")) {
                                size_t n;

                                if (elen < 5)
                                        return ib_err_set(w->err, -EBADMSG, 0, "Rock Ridge entry \"NM\" of %zu bytes", elen);
                                n = elen - 5;
                                rr->nm = true;
                                if (e[4] & (NM_CURRENT | NM_PARENT))
                                        rr->nm_dot = true;
                                /* Continuation (flag 0x01) or not, the pieces make one name. */
                                if (rr->name_len <= RR_NAME_MAX && n <= RR_NAME_MAX - rr->name_len)
                                        memcpy(rr->name + rr->name_len, e + 5, n);
                                rr->name_len = rr->name_len + n > RR_NAME_MAX ? RR_NAME_MAX + 1 : rr->name_len + n;
                        } else if (sig(e, "PX")) {
                                if (elen < 36)
                                        return ib_err_set(w->err, -EBADMSG, 0, "Rock Ridge entry \"PX\" of %zu bytes", elen);
                                rr->px = true;
                                rr->mode = le32(e + 4);
                        } else if (sig(e, "SL"))
                                rr->symlink = true;
                        else if (sig(e, "ZF"))
                                rr->zisofs = true;
                        else if (sig(e, "RE"))
                                rr->relocated = true;
                        else if (sig(e, "CL")) {
                                if (elen < 12)
                                        return ib_err_set(w->err, -EBADMSG, 0, "Rock Ridge entry \"CL\" of %zu bytes", elen);
                                rr->child_link = true;
                                rr->child_block = le32(e + 4);
                        }
                }
                if (!ce)
                        return 0;
                if (++hops > IB_ISO9660_MAX_CE_HOPS)
                        return ib_err_set(w->err, -EBADMSG, 0,
                                          "more than %u System Use continuation areas for one directory record",
                                          IB_ISO9660_MAX_CE_HOPS);
                if (++w->ce_areas > IB_ISO9660_MAX_CE_AREAS)
                        return ib_err_set(w->err, -E2BIG, 0, "more than %u System Use continuation areas",
                                          IB_ISO9660_MAX_CE_AREAS);
                if (ce_off > SECTOR || ce_len > SECTOR - ce_off)
                        return ib_err_set(w->err, -EBADMSG, 0, "System Use continuation area (%" PRIu32 " bytes at %" PRIu32
                                          ") crosses the end of block %" PRIu32, ce_len, ce_off, ce_block);
                if (w->ce_block != ce_block) {
                        uint64_t off = (uint64_t)ce_block * SECTOR;
                        int r;

                        if (!extent_ok(w, off, SECTOR))
                                return ib_err_set(w->err, -EBADMSG, 0,
                                                  "System Use continuation area in block %" PRIu32 " lies outside the image",
                                                  ce_block);
                        w->ce_block = NO_BLOCK;
                        r = read_exact(w, w->ce, SECTOR, off, "a System Use continuation area");
                        if (r < 0)
                                return r;
                        w->ce_block = ce_block;
                }
                area = w->ce + ce_off;
                len = ce_len;
        }
}

/* SUSP is in use when the root's "." record starts its System Use area with "SP". */
static int detect_susp(struct walk *w) {
        struct record rec;
        size_t n = w->root_size < SECTOR ? w->root_size : SECTOR;
        int r;

        if (w->root_size > IB_ISO9660_MAX_DIR)
                return ib_err_set(w->err, -E2BIG, 0, "root directory of %" PRIu32 " bytes (more than %u MiB)", w->root_size,
                                  IB_ISO9660_MAX_DIR >> 20);
        if (!extent_ok(w, w->root_offset, w->root_size))
                return ib_err_set(w->err, -EBADMSG, 0,
                                  "root directory (%" PRIu32 " bytes at byte %" PRIu64 ") lies outside the image",
                                  w->root_size, w->root_offset);
        if (n < DR_MIN)
                return ib_err_set(w->err, -EBADMSG, 0, "root directory of %" PRIu32 " bytes", w->root_size);
        r = read_exact(w, w->sec, n, w->root_offset, "the root directory");
        if (r < 0)
                return r;
        if (w->sec[0] == 0)
                return ib_err_set(w->err, -EBADMSG, 0, "root directory does not start with its \".\" record");
        r = parse_record(w, w->sec, n, false, &rec);
        if (r < 0)
                return r;
        if (rec.name_len != 1 || rec.name[0] != 0)
                return ib_err_set(w->err, -EBADMSG, 0, "root directory does not start with its \".\" record");
        if (rec.su_len >= 7 && sig(rec.su, "SP") && rec.su[2] >= 7 && rec.su[4] == 0xbe && rec.su[5] == 0xef) {
                w->susp = true;
                w->susp_skip = rec.su[6];
        }
        return 0;
}

/* ISO 9660 name without ";VERSION" and a trailing ".", ignoring ASCII case. */
static bool iso_name_matches(const uint8_t *name, size_t len, const char *comp, size_t comp_len) {
        const uint8_t *semi = memrchr(name, ';', len);

        if (semi) {
                size_t v = (size_t)(semi - name) + 1;
                bool digits = v < len;

                for (; v < len; v++)
                        digits = digits && name[v] >= '0' && name[v] <= '9';
                if (digits)
                        len = (size_t)(semi - name);
        }
        if (len > 0 && name[len - 1] == '.')
                len--;
        if (len != comp_len)
                return false;
        for (size_t i = 0; i < len; i++)
                if (ascii_lower((char)name[i]) != ascii_lower(comp[i]))
                        return false;
        return true;
}

/* Look @comp up in the directory of @size bytes at @off. */
static int find_in_dir(struct walk *w, uint64_t off, uint32_t size, const char *comp, size_t comp_len, struct record *ret,
                       struct rr *rr) {
        if (size > IB_ISO9660_MAX_DIR)
                return ib_err_set(w->err, -E2BIG, 0, "directory of %" PRIu32 " bytes (more than %u MiB)", size,
                                  IB_ISO9660_MAX_DIR >> 20);
        if (!extent_ok(w, off, size))
                return ib_err_set(w->err, -EBADMSG, 0,
                                  "directory (%" PRIu32 " bytes at byte %" PRIu64 ") lies outside the image", size, off);
        for (uint32_t done = 0; done < size; done += SECTOR) {
                size_t n = size - done < SECTOR ? size - done : SECTOR;
                int r = read_exact(w, w->sec, n, off + done, "a directory");

                if (r < 0)
                        return r;
                for (size_t pos = 0; pos < n && w->sec[pos] != 0;) {
                        struct record rec;
                        bool match;

                        if (++w->records > IB_ISO9660_MAX_RECORDS)
                                return ib_err_set(w->err, -E2BIG, 0, "more than %u directory records", IB_ISO9660_MAX_RECORDS);
                        r = parse_record(w, w->sec + pos, n - pos, w->susp, &rec);
                        if (r < 0)
                                return r;
                        pos += (size_t)r;
                        if (is_dot(&rec) || (rec.flags & FLAG_ASSOCIATED))
                                continue;
                        memset(rr, 0, sizeof(*rr));
                        if (w->susp) {
                                r = parse_susp(w, rec.su, rec.su_len, rr);
                                if (r < 0)
                                        return r;
                        }
                        if (rr->relocated)
                                continue;       /* shown where its "CL" placeholder is */
                        if (rr->nm)
                                match = !rr->nm_dot && rr->name_len == comp_len && memcmp(rr->name, comp, comp_len) == 0;
                        else
                                match = iso_name_matches(rec.name, rec.name_len, comp, comp_len);
                        if (match) {
                                *ret = rec;
                                return 0;
                        }
                }
        }
        return -ENOENT;
}

/* A Rock Ridge child link: the directory is the one whose "." record starts block @block. */
static int follow_child_link(struct walk *w, uint32_t block, uint64_t *ret_off, uint32_t *ret_size) {
        uint64_t off = (uint64_t)block * SECTOR;
        struct record rec;
        int r;

        if (!extent_ok(w, off, SECTOR))
                return ib_err_set(w->err, -EBADMSG, 0, "Rock Ridge child link to block %" PRIu32 " outside the image", block);
        r = read_exact(w, w->sec, SECTOR, off, "a relocated directory");
        if (r < 0)
                return r;
        if (w->sec[0] == 0)
                return ib_err_set(w->err, -EBADMSG, 0, "Rock Ridge child link to block %" PRIu32 ", which holds no directory",
                                  block);
        r = parse_record(w, w->sec, SECTOR, false, &rec);
        if (r < 0)
                return r;
        if (rec.name_len != 1 || rec.name[0] != 0 || !(rec.flags & FLAG_DIRECTORY) || rec.offset != off)
                return ib_err_set(w->err, -EBADMSG, 0, "Rock Ridge child link to block %" PRIu32 ", which holds no directory",
                                  block);
        *ret_off = rec.offset;
        *ret_size = rec.size;
        return 0;
}

static int walk_init(struct walk *w, ib_iso9660_read_fn rd, void *ctx, uint64_t image_size, struct ib_err *err) {
        w->rd = rd;
        w->ctx = ctx;
        w->err = err;
        w->image_size = image_size;
        w->volume_end = 0;
        w->susp = false;
        w->susp_skip = 0;
        w->records = w->ce_areas = 0;
        w->ce_block = NO_BLOCK;
        if (!rd)
                return ib_err_set(err, -EINVAL, 0, "no read function");
        return read_pvd(w);
}

static int label(ib_iso9660_read_fn rd, void *ctx, uint64_t image_size, char out[33], struct ib_err *err) {
        _cleanup_(freep) struct walk *w = malloc(sizeof(*w));
        char buf[33];
        size_t n = 0;
        int r;

        if (!w)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (!out)
                return ib_err_set(err, -EINVAL, 0, "no output buffer");
        r = walk_init(w, rd, ctx, image_size, err);
        if (r < 0)
                return r;
        while (n < 32 && w->sec[PVD_VOLUME_ID + n] != 0) {
                char c = (char)w->sec[PVD_VOLUME_ID + n];

                buf[n++] = (unsigned char)c < 0x20 || c == 0x7f ? '_' : c;  /* control characters */
        }
        while (n > 0 && buf[n - 1] == ' ')
                n--;
        buf[n] = 0;
        memcpy(out, buf, n + 1);
        return 0;
}

static int locate(ib_iso9660_read_fn rd, void *ctx, uint64_t image_size, const char *path, uint64_t *ret_offset,
                  uint64_t *ret_size, struct ib_err *err) {
        _cleanup_(freep) struct walk *w = malloc(sizeof(*w));
        uint64_t dir_off;
        uint32_t dir_size;
        const char *p;
        int r;

        if (!w)
                return ib_err_set(err, -ENOMEM, 0, "out of memory");
        if (!path || path[0] != '/')
                return ib_err_set(err, -EINVAL, 0, "%s: not an absolute path", path ?: "(null)");
        if (strnlen(path, PATH_MAX) >= PATH_MAX)
                return ib_err_set(err, -ENAMETOOLONG, 0, "path of %u bytes or more", PATH_MAX);
        r = walk_init(w, rd, ctx, image_size, err);
        if (r < 0)
                return r;
        r = detect_susp(w);
        if (r < 0)
                return r;
        dir_off = w->root_offset;
        dir_size = w->root_size;
        for (p = path;;) {
                struct record rec = {};
                struct rr rr = {};
                const char *comp;
                size_t len;
                bool last, is_dir;

                while (*p == '/')
                        p++;
                if (!*p)
                        return ib_err_set(err, -EISDIR, 0, "%s: is a directory, not a regular file", path);
                comp = p;
                len = strcspn(p, "/");
                p += len;
                last = *p == 0;
                if (len > RR_NAME_MAX)
                        return ib_err_set(err, -ENAMETOOLONG, 0, "%s: a component is longer than %u bytes", path, RR_NAME_MAX);
                if ((len == 1 && comp[0] == '.') || (len == 2 && comp[0] == '.' && comp[1] == '.'))
                        return ib_err_set(err, -EINVAL, 0, "%s: \".\" and \"..\" are not supported in paths", path);
                r = find_in_dir(w, dir_off, dir_size, comp, len, &rec, &rr);
                if (r == -ENOENT)
                        return ib_err_set(err, -ENOENT, 0, "%s: no such file in the image (no \"%.*s\" in %.*s)", path,
                                          (int)len, comp, comp == path + 1 ? 1 : (int)(comp - path - 1), path);
                if (r < 0)
                        return r;
                if (rr.symlink || (rr.px && S_ISLNK(rr.mode)))
                        return ib_err_set(err, -ELOOP, 0, "%s: %.*s%sis a symbolic link, and links are not followed", path,
                                          last ? 0 : (int)(p - path), path, last ? "" : " ");
                is_dir = (rec.flags & FLAG_DIRECTORY) || rr.child_link;
                if (!last) {
                        if (!is_dir)
                                return ib_err_set(err, -ENOTDIR, 0, "%s: %.*s is not a directory", path, (int)(p - path), path);
                        if (rr.child_link) {
                                r = follow_child_link(w, rr.child_block, &dir_off, &dir_size);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        if (rec.flags & FLAG_MULTI_EXTENT)
                                return ib_err_set(err, -EBADMSG, 0, "%s: directory %.*s has several extents", path,
                                                  (int)(p - path), path);
                        if (rec.interleaved)
                                return ib_err_set(err, -EOPNOTSUPP, 0, "%s: directory %.*s is interleaved, not supported", path,
                                                  (int)(p - path), path);
                        dir_off = rec.offset;
                        dir_size = rec.size;
                        continue;
                }
                if (is_dir)
                        return ib_err_set(err, -EISDIR, 0, "%s: is a directory, not a regular file", path);
                if (rec.flags & FLAG_MULTI_EXTENT)
                        return ib_err_set(err, -EFBIG, 0,
                                          "%s: multi-extent file not supported (files of 4 GiB and more are split)", path);
                if (rr.zisofs)
                        return ib_err_set(err, -EOPNOTSUPP, 0,
                                          "%s: zisofs-compressed file not supported (its bytes in the image are compressed)",
                                          path);
                if (rec.interleaved)
                        return ib_err_set(err, -EOPNOTSUPP, 0, "%s: interleaved file not supported", path);
                if (rr.px && !S_ISREG(rr.mode))
                        return ib_err_set(err, -EINVAL, 0, "%s: not a regular file (Rock Ridge mode %06" PRIo32 ")", path,
                                          rr.mode);
                if (!extent_ok(w, rec.offset, rec.size))
                        return ib_err_set(err, -EBADMSG, 0,
                                          "%s: its data (%" PRIu32 " bytes at byte %" PRIu64 ") lie outside the image", path,
                                          rec.size, rec.offset);
                if (ret_offset)
                        *ret_offset = rec.offset;
                if (ret_size)
                        *ret_size = rec.size;
                return 0;
        }
}

int ib_iso9660_label(ib_iso9660_read_fn rd, void *ctx, char out[33], struct ib_err *err) {
        return label(rd, ctx, UINT64_MAX, out, err);
}

int ib_iso9660_locate(ib_iso9660_read_fn rd, void *ctx, const char *path, uint64_t *ret_offset, uint64_t *ret_size,
                      struct ib_err *err) {
        return locate(rd, ctx, UINT64_MAX, path, ret_offset, ret_size, err);
}

static ssize_t fd_read(void *ctx, void *buf, size_t len, uint64_t off) {
        return ib_pread_full(*(int *)ctx, buf, len, off);
}

static int fd_size(int fd, uint64_t *ret, struct ib_err *err) {
        struct stat st;

        if (fstat(fd, &st) < 0)
                return ib_err_set(err, -errno, 0, "cannot stat the image: %s", strerror(errno));
        if (S_ISREG(st.st_mode))
                *ret = (uint64_t)st.st_size;
        else if (S_ISBLK(st.st_mode)) {
                uint64_t size;

                if (ioctl(fd, BLKGETSIZE64, &size) < 0)
                        return ib_err_set(err, -errno, 0, "cannot get the size of the image's block device: %s", strerror(errno));
                *ret = size;
        } else
                *ret = UINT64_MAX;
        return 0;
}

int ib_iso9660_label_fd(int fd, char out[33], struct ib_err *err) {
        uint64_t size = UINT64_MAX;
        int r = fd_size(fd, &size, err);

        return r < 0 ? r : label(fd_read, &fd, size, out, err);
}

int ib_iso9660_locate_fd(int fd, const char *path, uint64_t *ret_offset, uint64_t *ret_size, struct ib_err *err) {
        uint64_t size = UINT64_MAX;
        int r = fd_size(fd, &size, err);

        return r < 0 ? r : locate(fd_read, &fd, size, path, ret_offset, ret_size, err);
}
