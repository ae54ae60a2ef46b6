#!/usr/bin/env python3
"""Seed corpus of the fuzz targets, cut from the shipped files (standard library only).

Usage: fuzz/make_seeds.py OUTDIR [RLEKF]
Writes OUTDIR/<target>/<seed> for every target of fuzz/fuzz_harness.c. Seeds are kept small (a few
KB): the shipped data are trimmed to 2 frames and a handful of atoms, which is all a reader needs
to reach every branch. Multi-file targets use the harness's container: the first file's bytes,
then "#FZ:<name>\\n" before each further file's bytes. With RLEKF (an rlekf executable), the HDF5
targets also get a dataset file imported from a trimmed seed and a model file trained on it.
"""
import json
import os
import re
import struct
import subprocess
import sys
import tempfile

SEP = b"#FZ:"
FRAMES = 2  # frames kept per trimmed file
ATOMS = 3   # atoms kept per frame (water: O H H)


def pack(files, first=None):
    """[(name, bytes)] -> container. An entry named `first` (the target's file 0) goes first,
    unnamed; every other entry follows its separator line."""
    out = bytearray()
    for name, data in files:
        if name == first and not out:
            out += data
        else:
            out += SEP + name.encode() + b"\n" + data
    return bytes(out)


def npy_read(path):
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:6] == b"\x93NUMPY"
    hlen = struct.unpack("<H", raw[8:10])[0] if raw[6] == 1 else struct.unpack("<I", raw[8:12])[0]
    start = (10 if raw[6] == 1 else 12) + hlen
    header = raw[start - hlen:start].decode("latin1")
    descr = re.search(r"'descr':\s*'([^']*)'", header).group(1)
    shape = tuple(int(x) for x in re.search(r"'shape':\s*\(([^)]*)\)", header).group(1).split(",") if x.strip())
    code = {"<f8": "d", "<f4": "f", "<i8": "q", "<i4": "i"}[descr]
    n = 1
    for s in shape:
        n *= s
    vals = list(struct.unpack("<%d%s" % (n, code), raw[start:start + n * struct.calcsize(code)]))
    return descr, shape, vals


def npy_bytes(descr, shape, vals, version=1):
    code = {"<f8": "d", "<f4": "f", "<i8": "q", "<i4": "i"}[descr]
    shp = "(%s)" % (", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else ""))
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shp)
    pre = 10 if version == 1 else 12
    pad = (64 - (pre + len(header) + 1) % 64) % 64
    header = (header + " " * pad + "\n").encode("latin1")
    lenfield = struct.pack("<H", len(header)) if version == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + lenfield + header + struct.pack("<%d%s" % (len(vals), code), *vals)


def rows(shape, vals, nrows, ncols_keep=None):
    """First nrows rows of a 2-D (or 1-D) array, optionally the first ncols_keep columns."""
    if len(shape) == 1:
        return (nrows,), vals[:nrows]
    ncol = shape[1]
    keep = ncol if ncols_keep is None else ncols_keep
    out = []
    for r in range(nrows):
        out += vals[r * ncol:r * ncol + keep]
    return (nrows, keep), out


def trim_movement(path, natoms):
    """First FRAMES frames of a MOVEMENT file, every per-atom block cut to the first natoms."""
    out, frames = [], 0
    with open(path) as f:
        run = 0
        for line in f:
            m = re.match(r"^(\s*)(\d+)(\s+atoms.*)$", line)
            if m:
                line = "%s%d%s\n" % (m.group(1), natoms, m.group(3))
            first = line.split()[0] if line.split() else ""
            if re.fullmatch(r"\d+", first) and not m:  # an atom line "Z x y z ..."
                run += 1
                if run > natoms:
                    continue
            else:
                run = 0
            out.append(line)
            if line.lstrip().startswith("---"):
                frames += 1
                if frames == FRAMES:
                    break
    return "".join(out).encode()


def write(outdir, target, name, data):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def deepmd_files(src):
    """Trimmed DeePMD npy system: (name, bytes) with type.raw first."""
    types = open(os.path.join(src, "type.raw")).read().split()
    # one O and two H: the first atom of each type in order O, H, H
    o = types.index("0")
    hs = [i for i, t in enumerate(types) if t == "1"][:2]
    keep = [o] + hs
    files = [("type.raw", ("\n".join(types[i] for i in keep) + "\n").encode()),
             ("type_map.raw", open(os.path.join(src, "type_map.raw"), "rb").read())]
    sets = []
    for name in ("box", "coord", "energy", "force"):
        descr, shape, vals = npy_read(os.path.join(src, "set.000", name + ".npy"))
        if name in ("coord", "force"):
            ncol = shape[1]
            sel = []
            for r in range(FRAMES):
                row = vals[r * ncol:(r + 1) * ncol]
                for a in keep:
                    sel += row[3 * a:3 * a + 3]
            sets.append(("set.000/%s.npy" % name, npy_bytes(descr, (FRAMES, 3 * len(keep)), sel)))
        else:
            shp, v = rows(shape, vals, FRAMES)
            sets.append(("set.000/%s.npy" % name, npy_bytes(descr, shp, v)))
    return files + sets


def pwdata_files(src):
    keep = []
    _, shape, zs = npy_read(os.path.join(src, "image_type.npy"))
    for z in sorted(set(zs)):
        keep += [i for i, v in enumerate(zs) if v == z][:2 if z == min(zs) else 1]
    keep.sort()
    out = [("image_type.npy", npy_bytes("<i8", (1, len(keep)), [zs[i] for i in keep]))]
    for name in ("energies", "forces", "position", "lattice", "atom_type"):
        descr, shape, vals = npy_read(os.path.join(src, name + ".npy"))
        if name in ("forces", "position"):
            ncol = shape[1]
            sel = []
            for r in range(FRAMES):
                row = vals[r * ncol:(r + 1) * ncol]
                for a in keep:
                    sel += row[3 * a:3 * a + 3]
            out.append((name + ".npy", npy_bytes(descr, (FRAMES, 3 * len(keep)), sel)))
        elif name == "atom_type":
            out.append((name + ".npy", npy_bytes(descr, shape, vals)))
        else:
            shp, v = rows(shape, vals, FRAMES)
            out.append((name + ".npy", npy_bytes(descr, shp, v)))
    return out


def mlearn_seed(path):
    data = json.load(open(path))
    out = []
    for item in data[:FRAMES]:
        st = item["structure"]
        st["sites"] = st["sites"][:ATOMS + 1]
        item["outputs"]["forces"] = item["outputs"]["forces"][:ATOMS + 1]
        for k in list(item["outputs"]):
            if k not in ("energy", "forces"):
                del item["outputs"][k]
        out.append(item)
    return json.dumps(out, separators=(",", ":")).encode()


def main():
    outdir = sys.argv[1]
    rlekf = sys.argv[2] if len(sys.argv) > 2 else None
    top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ds = lambda *p: os.path.join(top, "datasets", *p)

    # MOVEMENT: Cu (one element) and LiGePS (three), 2 frames of 3 atoms
    write(outdir, "movement", "cu", trim_movement(ds("Cu", "0_300_MOVEMENT"), ATOMS))
    write(outdir, "movement", "ligeps", trim_movement(ds("LiGePS", "100_1200k_movement"), ATOMS))
    write(outdir, "movement", "cu_type_map",
          pack([("MOVEMENT", trim_movement(ds("Cu", "0_300_MOVEMENT"), ATOMS)), ("@type_map", b"Cu")], "MOVEMENT"))

    # DeePMD npy (float32 as shipped) and raw text; a nested copy exercises the directory search
    dm = deepmd_files(ds("H2O", "data_0"))
    write(outdir, "deepmd", "h2o", pack(dm, "type.raw"))
    write(outdir, "deepmd", "h2o_sub", pack([("sub/" + n, d) for n, d in dm if not n.startswith("set.")] +
                                            [("sub/" + n, d) for n, d in dm if n.startswith("set.")]))
    write(outdir, "deepmd", "h2o_type_map", pack([dm[0]] + dm[2:] + [("@type_map", b"O,H")], "type.raw"))
    raw = os.path.join(top, "tests", "data", "import", "raw_sys")
    rf = [(n, open(os.path.join(raw, n), "rb").read())
          for n in ("type.raw", "type_map.raw", "coord.raw", "box.raw", "energy.raw", "force.raw")]
    write(outdir, "deepmd_raw", "raw_sys", pack(rf, "type.raw"))
    write(outdir, "deepmd_raw", "raw_sys_sub", pack([("sub/" + n, d) for n, d in rf]))
    write(outdir, "deepmd_raw", "raw_sys_type_map", pack([rf[0]] + rf[2:] + [("@type_map", b"O,H")], "type.raw"))

    # pwdata: HfO2, 2 frames of 3 atoms (2 O, 1 Hf)
    pw = pwdata_files(ds("HfO2", "pwdata", "init_007_50", "train"))
    write(outdir, "pwdata", "hfo2", pack(pw, "image_type.npy"))
    write(outdir, "pwdata", "hfo2_valid", pack([("valid/" + n, d) for n, d in pw if n != "atom_type.npy"]))

    # extxyz: the hand-written test fixture (3 frames, 2 systems)
    write(outdir, "extxyz", "mixed", open(os.path.join(top, "tests", "data", "import", "mixed.xyz"), "rb").read())

    # mlearn: Si, 2 structures of 4 sites
    write(outdir, "mlearn", "si", mlearn_seed(ds("Si_mlearn", "training.json")))

    # npy: every dtype and header version the reader takes
    for name, data in dm[2:] + pw:
        if name.endswith(".npy"):
            write(outdir, "npy", name.replace("/", "_"), data)
    write(outdir, "npy", "v2_i4", npy_bytes("<i4", (2, 2), [1, -2, 3, 4], version=2))
    write(outdir, "npy", "scalar_f8", npy_bytes("<f8", (), [1.5]))

    # configs and manifests: the shipped ones
    for d, target in (("experiments/train", "config"), ("experiments", "manifest")):
        for f in sorted(os.listdir(os.path.join(top, d))):
            if f.endswith(".json"):
                write(outdir, target, f, open(os.path.join(top, d, f), "rb").read())

    # HDF5: the test fixtures, plus files written by rlekf itself
    fx = os.path.join(top, "tests", "data", "import")
    for f in sorted(os.listdir(fx)):
        if f.endswith(".h5"):
            write(outdir, "h5dataset", f, open(os.path.join(fx, f), "rb").read())
    if rlekf:
        with tempfile.TemporaryDirectory() as tmp:
            h5 = os.path.join(tmp, "raw.h5")
            subprocess.run([rlekf, "import", "-o", h5, raw], check=True, stdout=subprocess.DEVNULL)
            write(outdir, "h5dataset", "raw_sys.h5", open(h5, "rb").read())
            cfg = os.path.join(tmp, "train.json")
            json.dump({"model": {"sel": [4, 4], "neuron": [2, 4], "axis_neuron": 2, "fitting_neuron": [4],
                                 "rcut": 3.0, "rcut_smth": 0.5},
                       "optimizer": {"type": "adam"},
                       "training": {"dataset": h5, "epochs": 1, "test_fraction": 0.5},
                       "output": os.path.join(tmp, "run")}, open(cfg, "w"))
            subprocess.run([rlekf, "train", cfg, "--quiet"], check=True, stdout=subprocess.DEVNULL)
            write(outdir, "h5model", "tiny.h5", open(os.path.join(tmp, "run", "model.h5"), "rb").read())


if __name__ == "__main__":
    main()
