package io.deepshard.spark;

import com.esotericsoftware.kryo.Kryo;
import com.esotericsoftware.kryo.serializers.JavaSerializer;
import org.apache.spark.SparkConf;
import org.apache.spark.serializer.KryoRegistrator;

/**
 * Makes Spark's Kryo serializer handle Java records (Deepshard's {@code ImageRecord}, {@code NetworkState} and the
 * others that travel in shuffles, task results and broadcasts). Kryo 4, the version Spark ships, cannot create a
 * record's serializer ("can't get field offset on a record class"), so a cluster whose spark-defaults set
 * {@code spark.serializer=org.apache.spark.serializer.KryoSerializer} failed on the first epoch's shuffle. Records
 * go through Java serialization inside Kryo instead, and so do {@link java.io.Externalizable} classes (their own
 * format: the round results write their arrays in bulk); everything else keeps Kryo's own serializers.
 */
public final class KryoRecords implements KryoRegistrator {

    public static final String KRYO = "org.apache.spark.serializer.KryoSerializer";

    @Override
    public void registerClasses(Kryo kryo) {
        kryo.addDefaultSerializer(Record.class, JavaSerializer.class);
        // classes that write themselves (a round's model-sized sums, in bulk) keep their own format under Kryo too
        kryo.addDefaultSerializer(java.io.Externalizable.class, JavaSerializer.class);
    }

    /**
     * The value of {@code spark.kryo.registrator} that {@code conf} needs: its own registrators with this one added
     * when its serializer is Kryo; null when nothing needs to change (Java serialization, or this one already there).
     */
    public static String registratorSetting(SparkConf conf) {
        if (!KRYO.equals(conf.get("spark.serializer", "").trim())) return null;
        String mine = KryoRecords.class.getName(), theirs = conf.get("spark.kryo.registrator", "").trim();
        if (java.util.Arrays.asList(theirs.split("\\s*,\\s*")).contains(mine)) return null;
        return theirs.isEmpty() ? mine : theirs + "," + mine;
    }
}
