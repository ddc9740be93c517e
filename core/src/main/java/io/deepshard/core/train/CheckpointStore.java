package io.deepshard.core.train;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.deepshard.core.transform.Normalizer;
import io.deepshard.core.util.Fs;
import io.deepshard.core.util.Versions;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.DigestInputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * The checkpoints of one run, in a directory on any Hadoop file system ({@code <run>/checkpoints}):
 * <pre>
 *   ckpt-e0003-r000000/   3 epochs done          state.bin       parameters, updater state (and the best epoch's
 *   ckpt-e0003-r000040/   + 40 rounds of epoch 4                 state with early stopping), raw little-endian floats
 *                                                 normalizer.json the fitted input normalization
 *                                                 meta.json       counters, history, settings, SHA-256 of state.bin
 * </pre>
 * A checkpoint is written into a hidden temporary directory and renamed into place, so a reader sees all of it or
 * none; the newest {@code keep} are kept. {@link #latest} returns the newest checkpoint that reads back whole (a
 * checksum over {@code state.bin}), warning about each newer one it had to pass over.
 */
public final class CheckpointStore {
    private static final Logger LOG = LoggerFactory.getLogger(CheckpointStore.class);
    public static final String DIR = "checkpoints";
    static final int FORMAT = 1;
    private static final byte[] MAGIC = "DSCKPT01".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private final Configuration conf;
    private final Path dir;
    private final FileSystem fs;

    /** The store of the run directory {@code runDir}. */
    public CheckpointStore(Configuration conf, String runDir) {
        this.conf = conf;
        this.dir = new Path(Fs.path(runDir), DIR);
        this.fs = Fs.fs(dir, conf);
    }

    public Path directory() { return dir; }

    /** A checkpoint that could not be used, and why. */
    public record Rejected(String name, String reason) {}

    /** Writes {@code c} atomically and deletes all but the newest {@code keep} checkpoints; returns its directory. */
    public Path save(Checkpoint c, int keep) {
        Path target = new Path(dir, c.progress().name());
        try {
            Fs.writeDirectoryAtomically(conf, target, (fs, tmp) -> writeFiles(fs, tmp, c));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint " + target + ": " + e.getMessage(), e);
        }
        prune(keep);
        return target;
    }

    /** state.bin (with its SHA-256 in meta.json), normalizer.json, and meta.json last. */
    private static void writeFiles(FileSystem fs, Path tmp, Checkpoint c) throws IOException {
        MessageDigest sha = sha256();
        try (var out = new DataOutputStream(new BufferedOutputStream(new DigestOutputStream(fs.create(new Path(tmp, "state.bin")), sha), 1 << 20))) {
            out.write(MAGIC);
            List<float[]> arrays = arrays(c);
            out.writeInt(arrays.size());
            for (float[] a : arrays) writeFloats(out, a);
        }
        try (OutputStream out = fs.create(new Path(tmp, "normalizer.json"))) {
            out.write(JSON.writeValueAsBytes(c.normalizer()));
        }
        var meta = new LinkedHashMap<String, Object>();
        meta.put("format", FORMAT);
        meta.put("createdAt", Instant.now().toString());
        meta.put("position", c.progress().describe());
        meta.put("iteration", c.state().iteration());
        meta.put("stateEpoch", c.state().epoch());
        meta.put("parameters", c.state().params().length);
        meta.put("updaterValues", c.state().updaterState().length);
        meta.put("hasBest", c.best() != null);
        if (c.best() != null) {
            meta.put("bestIteration", c.best().iteration());
            meta.put("bestEpoch", c.best().epoch());
        }
        meta.put("stateSha256", HexFormat.of().formatHex(sha.digest()));
        meta.put("versions", Versions.core());
        meta.put("progress", c.progress());
        try (OutputStream out = fs.create(new Path(tmp, "meta.json"))) {
            out.write(JSON.writeValueAsBytes(meta));
        }
    }

    /** Names of the complete checkpoint directories, oldest first (temporary directories of interrupted writes excluded). */
    public List<String> names() {
        try {
            if (!fs.exists(dir)) return List.of();
            var out = new ArrayList<String>();
            for (FileStatus s : fs.listStatus(dir)) {
                String n = s.getPath().getName();
                if (s.isDirectory() && n.matches("ckpt-e\\d{4,}-r\\d{6,}")) out.add(n);
            }
            out.sort(null);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot list checkpoints in " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Deletes all but the newest {@code keep} checkpoints, and leftovers of interrupted writes. */
    public void prune(int keep) {
        List<String> names = names();
        try {
            for (int i = 0; i < names.size() - keep; i++) fs.delete(new Path(dir, names.get(i)), true);
            for (FileStatus s : fs.listStatus(dir)) {
                if (s.getPath().getName().startsWith(".ckpt-")) fs.delete(s.getPath(), true);
            }
        } catch (IOException e) {
            LOG.warn("cannot delete old checkpoints in {}: {}", dir, e.getMessage());
        }
    }

    /** Deletes the whole checkpoint directory (after a run finished and its model is saved). */
    public void deleteAll() {
        try {
            fs.delete(dir, true);
        } catch (IOException e) {
            LOG.warn("cannot delete the checkpoints in {}: {}", dir, e.getMessage());
        }
    }

    /** What {@link #latest} found: the newest checkpoint that reads back whole (or null), and the ones passed over. */
    public record Found(Checkpoint checkpoint, String name, List<Rejected> rejected) {}

    /**
     * The newest checkpoint that reads back whole. Each newer checkpoint that does not (missing file, checksum
     * mismatch, truncated, unknown format) is passed over with a warning naming it and the reason.
     */
    public Found latest() {
        List<String> names = new ArrayList<>(names());
        java.util.Collections.reverse(names);
        var rejected = new ArrayList<Rejected>();
        for (String name : names) {
            try {
                Checkpoint c = read(name);
                for (Rejected r : rejected) {
                    LOG.warn("checkpoint {} is unusable ({}); using the previous one, {}", r.name(), r.reason(), name);
                }
                return new Found(c, name, rejected);
            } catch (IOException | RuntimeException e) {
                rejected.add(new Rejected(name, e.getMessage()));
            }
        }
        return new Found(null, null, rejected);
    }

    /** Reads and verifies one checkpoint; throws with the reason when it is incomplete or damaged. */
    public Checkpoint read(String name) throws IOException {
        Path d = new Path(dir, name);
        Path metaFile = new Path(d, "meta.json");
        if (!fs.exists(metaFile)) throw new IOException(metaFile + " is missing");
        Map<String, Object> meta = JSON.readValue(Fs.readString(conf, metaFile), new TypeReference<>() {});
        Object format = meta.get("format");
        if (!(format instanceof Number n) || n.intValue() != FORMAT) {
            throw new IOException("unknown checkpoint format " + format + " in " + metaFile + " (this version reads " + FORMAT + ")");
        }
        Checkpoint.Progress progress = JSON.convertValue(meta.get("progress"), Checkpoint.Progress.class);
        Normalizer normalizer = JSON.readValue(Fs.readString(conf, new Path(d, "normalizer.json")), Normalizer.class);
        MessageDigest sha = sha256();
        List<float[]> arrays = new ArrayList<>();
        Path stateFile = new Path(d, "state.bin");
        try (var in = new DataInputStream(new BufferedInputStream(new DigestInputStream(fs.open(stateFile), sha), 1 << 20))) {
            byte[] magic = new byte[MAGIC.length];
            in.readFully(magic);
            if (!Arrays.equals(magic, MAGIC)) throw new IOException(stateFile + " is not a Deepshard checkpoint state file");
            int count = in.readInt();
            if (count != 2 && count != 4) throw new IOException(stateFile + " holds " + count + " arrays, expected 2 or 4");
            long[] lengths = {((Number) meta.get("parameters")).longValue(), ((Number) meta.get("updaterValues")).longValue()};
            for (int i = 0; i < count; i++) arrays.add(readFloats(in, stateFile, lengths[i % 2]));
            if (in.read() != -1) throw new IOException(stateFile + " has trailing bytes");
        } catch (EOFException e) {
            throw new IOException(stateFile + " is truncated", e);
        }
        String expected = String.valueOf(meta.get("stateSha256"));
        String actual = HexFormat.of().formatHex(sha.digest());
        if (!actual.equals(expected)) {
            throw new IOException(stateFile + " is damaged: SHA-256 " + actual + ", meta.json says " + expected);
        }
        long iteration = ((Number) meta.get("iteration")).longValue();
        int stateEpoch = ((Number) meta.get("stateEpoch")).intValue();
        NetworkState state = new NetworkState(arrays.get(0), arrays.get(1), iteration, stateEpoch);
        NetworkState best = arrays.size() == 4 ? new NetworkState(arrays.get(2), arrays.get(3),
                ((Number) meta.get("bestIteration")).longValue(), ((Number) meta.get("bestEpoch")).intValue()) : null;
        return new Checkpoint(state, best, normalizer, progress);
    }

    /**
     * The settings that differ between a checkpoint and the current config, one line each ({@code key: checkpoint X,
     * now Y}); empty when they agree.
     */
    public static List<String> differences(SortedMap<String, String> checkpoint, SortedMap<String, String> now) {
        var keys = new TreeMap<String, Boolean>();
        checkpoint.keySet().forEach(k -> keys.put(k, true));
        now.keySet().forEach(k -> keys.put(k, true));
        var out = new ArrayList<String>();
        for (String k : keys.keySet()) {
            String a = checkpoint.get(k), b = now.get(k);
            if (a == null) a = io.deepshard.core.config.DeepshardConfig.ADDED_SETTINGS.get(k);
            if (!java.util.Objects.equals(a, b)) {
                out.add(k + ": checkpoint " + (a == null ? "(not set)" : a) + ", now " + (b == null ? "(not set)" : b));
            }
        }
        return out;
    }

    private static List<float[]> arrays(Checkpoint c) {
        var out = new ArrayList<float[]>(List.of(c.state().params(), c.state().updaterState()));
        if (c.best() != null) {
            out.add(c.best().params());
            out.add(c.best().updaterState());
        }
        return out;
    }

    private static void writeFloats(DataOutputStream out, float[] a) throws IOException {
        out.writeInt(a.length);
        ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < a.length; ) {
            int n = Math.min(a.length - i, buf.capacity() / 4);
            buf.clear();
            buf.asFloatBuffer().put(a, i, n);
            out.write(buf.array(), 0, n * 4);
            i += n;
        }
    }

    private static float[] readFloats(DataInputStream in, Path file, long expected) throws IOException {
        int len = in.readInt();
        if (len != expected) throw new IOException(file + " holds an array of " + len + " values, meta.json says " + expected);
        float[] a = new float[len];
        byte[] bytes = new byte[1 << 16];
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < len; ) {
            int n = Math.min(len - i, bytes.length / 4);
            in.readFully(bytes, 0, n * 4);
            buf.clear();
            buf.asFloatBuffer().get(a, i, n);
            i += n;
        }
        return a;
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
