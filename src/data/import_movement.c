/* import_movement: PWmat MOVEMENT trajectories.
 *
 * A frame is a block of lines ending with a line of dashes:
 *   "  72 atoms,Iteration (fs) = t, Etot,Ep,Ek (eV) = Etot Ep Ek, SCF = n"
 *   " Lattice vector (Angstrom)" + 3 lines whose first 3 numbers are the rows a, b, c (Cu files
 *       append "stress (eV): ..." columns, ignored)
 *   " Position (normalized), ..." + natoms lines "Z fa fb fc mx my mz": FRACTIONAL positions
 *   " Force (-force, eV/Angstrom)" + natoms lines "Z gx gy gz": the printed g is dE/dR; older
 *       PWmat versions title the same block " Force (eV/Angstrom)" (still dE/dR: readers of the
 *       format negate every "Force" block alike); any other force unit is an error
 *   other blocks (MD_INFO, Pressure Internal, nonperiodic_Position, Velocity, Atomic-Energy):
 *       skipped.
 * Labels: energy = Ep (the 2nd number after "Etot,Ep,Ek (eV) ="), not Etot; force F = -g;
 * Cartesian r = frac · cell. Every frame of a file must have the same atom count and the same
 * atomic-number sequence (the file's atom order is kept). One file = one system, named after
 * the file's basename.
 */
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "import_internal.h"

#define MV_ENERGY_KEY "Etot,Ep,Ek"

typedef struct {
    const char *path;
    imp_lines it;
    size_t natoms;
    int *z;        /* (natoms) atomic numbers of frame 0 */
    double *frac;  /* (natoms, 3) scratch: fractional positions of the current frame */
    double *dedr;  /* (natoms, 3) scratch: the printed force block (dE/dR) of the current frame */
    size_t nframe; /* frames completed */
} mv_parser;

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int starts_with(const char *s, const char *prefix) {
    return strncmp(skip_ws(s), prefix, strlen(prefix)) == 0;
}

/* Header line: natoms and Ep. */
static rk_status parse_header(mv_parser *p, const char *line, size_t *natoms, double *ep) {
    char ex[80];
    char *e;
    long n = strtol(line, &e, 10);
    if (e == line || n < 0 || strncmp(skip_ws(e), "atoms", 5) != 0)
        return err_set(RK_EINPUT, "%s line %zu: frame header without '<n> atoms': '%s'", p->path,
                       p->it.lineno, imp_excerpt(line, ex, sizeof ex));
    const char *k = strstr(line, MV_ENERGY_KEY);
    const char *eq = k ? strchr(k, '=') : NULL;
    double v[3];
    if (!eq || imp_parse_doubles(eq + 1, v, 3, NULL) != 3)
        return err_set(RK_EINPUT, "%s line %zu: cannot read 'Etot,Ep,Ek (eV) = Etot Ep Ek': '%s'",
                       p->path, p->it.lineno, imp_excerpt(line, ex, sizeof ex));
    *natoms = (size_t)n;
    *ep = v[1];
    return RK_OK;
}

/* Next line, or a truncation error naming the block being read (NULL: between blocks). */
static rk_status need_line(mv_parser *p, const char *what, size_t frame_line, char **line) {
    *line = imp_lines_next(&p->it);
    if (!*line && !what)
        return err_set(RK_EINPUT,
                       "%s: truncated: file ends before the '-----' terminator of frame %zu (which "
                       "starts at line %zu)",
                       p->path, p->nframe, frame_line);
    if (!*line)
        return err_set(RK_EINPUT,
                       "%s: truncated: file ends in the %s of frame %zu (which starts at line %zu)",
                       p->path, what, p->nframe, frame_line);
    return RK_OK;
}

static rk_status read_lattice(mv_parser *p, size_t frame_line, double *box) {
    for (size_t r = 0; r < 3; r++) {
        char *line, ex[80];
        rk_status st = need_line(p, "Lattice block", frame_line, &line);
        if (st) return st;
        if (imp_parse_doubles(line, box + 3 * r, 3, NULL) != 3)
            return err_set(RK_EINPUT,
                           "%s line %zu: frame %zu: expected lattice vector %zu, got '%s'", p->path,
                           p->it.lineno, p->nframe, r, imp_excerpt(line, ex, sizeof ex));
    }
    return RK_OK;
}

/* The force block's title: "Force (-force, eV/Angstrom)" or the older "Force (eV/Angstrom)", any
 * spacing; both print dE/dR. */
static int force_title_ok(const char *line) {
    const char *s = skip_ws(line) + strlen("Force");
    s = skip_ws(s);
    if (*s++ != '(') return 0;
    s = skip_ws(s);
    if (strncmp(s, "-force", 6) == 0) {
        s = skip_ws(s + 6);
        if (*s++ != ',') return 0;
        s = skip_ws(s);
    }
    if (strncmp(s, "eV/Angstrom", 11) != 0) return 0;
    s = skip_ws(s + 11);
    return *s == ')';
}

/* natoms lines "Z x y z ..." into xyz (natoms, 3); checks Z against frame 0 (or records it). */
static rk_status read_atoms(mv_parser *p, const char *block, size_t frame_line, int record_z,
                            double *xyz) {
    for (size_t a = 0; a < p->natoms; a++) {
        char *line, ex[80];
        rk_status st = need_line(p, block, frame_line, &line);
        if (st) return st;
        char *e;
        long z = strtol(line, &e, 10);
        if (e == line || imp_parse_doubles(e, xyz + 3 * a, 3, NULL) != 3)
            return err_set(
                RK_EINPUT,
                "%s line %zu: frame %zu atom %zu: expected 'Z x y z' in the %s, got '%s'", p->path,
                p->it.lineno, p->nframe, a, block, imp_excerpt(line, ex, sizeof ex));
        if (record_z) {
            if (z < 1 || z > IMPORT_Z_MAX)
                return err_set(RK_EINPUT,
                               "%s line %zu: frame %zu atom %zu: atomic number %ld is not an "
                               "element (valid 1..%d)",
                               p->path, p->it.lineno, p->nframe, a, z, IMPORT_Z_MAX);
            p->z[a] = (int)z;
        } else if (z != p->z[a]) {
            return err_set(RK_EINPUT,
                           "%s line %zu: frame %zu atom %zu has atomic number %ld, but %s%d "
                           "(atoms must keep their order and species)",
                           p->path, p->it.lineno, p->nframe, a, z,
                           p->nframe ? "frame 0 has " : "its Position line has ", p->z[a]);
        }
    }
    return RK_OK;
}

static rk_status parse(mv_parser *p, const import_opts *o, dataset_t *dst, imp_grow *g,
                       int *have_g) {
    char *line, ex[80];
    rk_status st = RK_OK;
    while ((line = imp_lines_next(&p->it)) != NULL) {
        if (imp_blank(line)) continue;
        if (!strstr(line, MV_ENERGY_KEY))
            return err_set(RK_EINPUT,
                           "%s line %zu: expected a frame header '<n> atoms,... %s (eV) "
                           "= ...', got '%s'",
                           p->path, p->it.lineno, MV_ENERGY_KEY, imp_excerpt(line, ex, sizeof ex));
        size_t frame_line = p->it.lineno, natoms = 0;
        double ep = 0;
        if ((st = parse_header(p, line, &natoms, &ep))) return st;
        if (!*have_g) {
            if (natoms == 0)
                return err_set(RK_EINPUT, "%s line %zu: frame 0 has 0 atoms", p->path, frame_line);
            /* every atom has a line of its own: a count beyond the bytes left is a truncated file
             * (checked before the count sizes any allocation) */
            size_t left = (size_t)(p->it.end - p->it.p);
            if (natoms > left)
                return err_set(RK_EINPUT,
                               "%s: truncated: frame 0 (line %zu) declares %zu atoms but only %zu "
                               "bytes follow",
                               p->path, frame_line, natoms, left);
            p->natoms = natoms;
            p->z = rk_calloc(natoms, sizeof *p->z);
            p->frac = rk_calloc(3 * natoms, sizeof *p->frac);
            p->dedr = rk_calloc(3 * natoms, sizeof *p->dedr);
            if (!p->z || !p->frac || !p->dedr) return RK_ENOMEM;
        } else if (natoms != p->natoms) {
            return err_set(RK_EINPUT, "%s line %zu: frame %zu has %zu atoms, frame 0 has %zu",
                           p->path, frame_line, p->nframe, natoms, p->natoms);
        }
        double box[9], *force = NULL;
        int have_lat = 0, have_pos = 0, have_force = 0, ended = 0;
        while (!ended) {
            if ((st = need_line(p, NULL, frame_line, &line))) break;
            if (starts_with(line, "---")) {
                ended = 1;
            } else if (starts_with(line, "Lattice vector")) {
                st = read_lattice(p, frame_line, box);
                have_lat = 1;
            } else if (starts_with(line, "Position")) {
                st = read_atoms(p, "Position block", frame_line, !*have_g && !have_pos, p->frac);
                have_pos = 1;
            } else if (starts_with(line, "Force")) {
                if (!force_title_ok(line)) {
                    st = err_set(RK_EINPUT,
                                 "%s line %zu: unknown force block '%s' (expected 'Force "
                                 "(-force, eV/Angstrom)' or 'Force (eV/Angstrom)')",
                                 p->path, p->it.lineno, imp_excerpt(line, ex, sizeof ex));
                } else if (!have_pos) {
                    st = err_set(RK_EINPUT, "%s line %zu: frame %zu: Force block before Position",
                                 p->path, p->it.lineno, p->nframe);
                } else {
                    st = read_atoms(p, "Force block", frame_line, 0, p->dedr);
                    have_force = 1;
                }
            } else if (strstr(line, MV_ENERGY_KEY)) {
                st = err_set(RK_EINPUT,
                             "%s line %zu: truncated frame %zu (line %zu): a new frame header "
                             "appears before the '-----' terminator",
                             p->path, p->it.lineno, p->nframe, frame_line);
            }
            if (st) break;
        }
        if (st) break;
        if (!have_lat || !have_pos || !have_force) {
            st = err_set(RK_EINPUT, "%s line %zu: frame %zu (from line %zu) has no %s block",
                         p->path, p->it.lineno, p->nframe, frame_line,
                         !have_lat   ? "Lattice vector"
                         : !have_pos ? "Position"
                                     : "Force");
            break;
        }
        if (!*have_g) {
            char name[DS_NAME_MAX];
            imp_basename(p->path, name, sizeof name);
            int32_t *type = rk_malloc(natoms * sizeof *type);
            if (!type) {
                st = RK_ENOMEM;
                break;
            }
            for (size_t a = 0; a < natoms && !st; a++) {
                char ctx[IMP_PATH_MAX + 64];
                snprintf(ctx, sizeof ctx, "%s frame 0 atom %zu (Z=%d)", p->path, a, p->z[a]);
                st = imp_type_id(dst, o, import_element_symbol(p->z[a]), ctx, &type[a]);
            }
            if (!st) st = imp_grow_init(g, name, natoms, type);
            free(type);
            if (st) break;
            *have_g = 1;
        }
        double *fbox, *coord, *energy;
        if ((st = imp_grow_push(g, &fbox, &coord, &force, &energy))) break;
        memcpy(fbox, box, sizeof box);
        imp_frac_to_cart(box, p->frac, coord, natoms);
        /* the block prints dE/dR: F = -(printed value) */
        for (size_t i = 0; i < 3 * natoms; i++)
            force[i] = -p->dedr[i];
        *energy = ep;
        p->nframe++;
    }
    if (!st && p->nframe == 0) st = err_set(RK_EINPUT, "%s: no frames found", p->path);
    return st;
}

static rk_status read_movement(const char *path, const import_opts *o, dataset_t *dst) {
    char *text;
    size_t len;
    rk_status st = fs_read_all(path, &text, &len);
    if (st) return st;
    mv_parser p;
    memset(&p, 0, sizeof p);
    p.path = path;
    imp_lines_init(&p.it, text, len);
    imp_grow g;
    int have_g = 0;
    st = parse(&p, o, dst, &g, &have_g);
    free(text);
    free(p.z);
    free(p.frac);
    free(p.dedr);
    if (st) {
        if (have_g) imp_grow_free(&g);
        return st;
    }
    return imp_add_system(dst, &g.s, path);
}

/* --format auto: a frame header "<n> atoms,... Etot,Ep,Ek (eV) = ..." opens the file. */
static int sniff_movement(const char *first_line) {
    return strstr(first_line, "atoms") && strstr(first_line, "Etot");
}

const import_type import_movement = {
    .name = "movement",
    .help = "PWmat MOVEMENT file (energy Ep, F = -printed, fractional)",
    .source = IMP_SOURCE_FILE,
    .sniff = sniff_movement,
    .read = read_movement,
};
