/* gen_h5_fixtures: writes the small HDF5 fixtures beside this file, the way independent tools
 * (h5py, Fortran codes) write them, which src/h5io.c deliberately never does: fixed-length and
 * space-padded strings, float32 data, and a few broken files for the reader's error paths.
 *
 * Not part of the build (it is the one file outside src/h5io.c that includes <hdf5.h>, because
 * its whole purpose is to write HDF5 differently from h5io). Regenerate by hand:
 *   cc -std=c17 -I/usr/include/hdf5/serial gen_h5_fixtures.c \
 *      -L/usr/lib/x86_64-linux-gnu/hdf5/serial -lhdf5 -o /tmp/gen && \
 *      (cd tests/data/import && /tmp/gen)
 *
 * Every fixture holds one system "w" of 2 atoms (O, H) and 1 frame:
 *   fixed_strings.h5  valid; root attrs and /type_map as fixed-length strings (type_map
 *                     space-padded, size 4), coord/force/box/energy float32, type int64.
 *   bad_shape.h5      valid strings, but /systems/w/coord is [1,3,3] while type is [2].
 *   missing_force.h5  no /systems/w/force.
 *   version2.h5       root attribute version = 2.
 */
#include <hdf5.h>
#include <string.h>

static void attr_fixed(hid_t loc, const char *name, const char *value) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(value) + 1);
    H5Tset_strpad(t, H5T_STR_NULLTERM);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, t, value);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

static void attr_int(hid_t loc, const char *name, int v) {
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
    H5Sclose(sp);
}

static void array(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                  const hsize_t *dims, const void *data) {
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(loc, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(d);
    H5Sclose(sp);
}

static void write_fixture(const char *path, int version, int bad_shape, int with_force) {
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    attr_fixed(f, "format", "rlekf-dataset");
    attr_int(f, "version", version);
    /* /type_map: fixed length 4, space padded: "O   ", "H   " */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 4);
    H5Tset_strpad(t, H5T_STR_SPACEPAD);
    hsize_t nt[1] = {2};
    array(f, "type_map", t, t, 1, nt, "O   H   ");
    H5Tclose(t);
    hid_t sys = H5Gcreate2(f, "systems", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t g = H5Gcreate2(sys, "w", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    long long type[2] = {0, 1};
    float coord[6] = {0.5f, 0.25f, 0.125f, 1.5f, 0.25f, 0.125f};
    float force[6] = {-0.5f, 0.0f, 0.25f, 0.5f, 0.0f, -0.25f};
    float box[9] = {4, 0, 0, 0, 4, 0, 0, 0, 4};
    float energy[1] = {-17.5f};
    hsize_t dna[1] = {2}, dnf[1] = {1}, dxyz[3] = {1, 2, 3}, dbox[3] = {1, 3, 3};
    array(g, "type", H5T_STD_I64LE, H5T_NATIVE_LLONG, 1, dna, type);
    array(g, "coord", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, bad_shape ? dbox : dxyz, coord);
    if (with_force) array(g, "force", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dxyz, force);
    array(g, "box", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 3, dbox, box);
    array(g, "energy", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 1, dnf, energy);
    H5Gclose(g);
    H5Gclose(sys);
    H5Fclose(f);
}

int main(void) {
    write_fixture("fixed_strings.h5", 1, 0, 1);
    write_fixture("bad_shape.h5", 1, 1, 1);
    write_fixture("missing_force.h5", 1, 0, 0);
    write_fixture("version2.h5", 2, 0, 1);
    return 0;
}
