package io.deepshard.jobs;

import io.deepshard.core.data.BuiltInDatasets;
import io.deepshard.core.data.DatasetFetcher;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code fetch-data [name ...]}: puts built-in datasets into the local cache and verifies them (no Spark); generated
 * ones ({@code shapes-segmentation}) are generated, when named.
 */
@Command(name = "fetch-data", mixinStandardHelpOptions = true,
        description = "Fetch and verify built-in datasets (default: fashion-mnist and mnist) into the data cache; "
                + "shapes-segmentation is generated.")
public final class FetchDataJob implements Callable<Integer> {
    @Parameters(paramLabel = "DATASET", arity = "0..*", description = "fashion-mnist, mnist, shapes-segmentation (default: the first two)")
    List<String> names = List.of();

    public static void main(String[] args) { System.exit(Cli.run(new FetchDataJob(), args)); }

    @Override public Integer call() {
        DatasetFetcher fetcher = DatasetFetcher.fromEnvironment(msg -> System.out.println(msg));
        List<String> todo = names.isEmpty() ? List.of("fashion-mnist", "mnist") : names;
        for (String n : todo) {
            BuiltInDatasets.Dataset d = BuiltInDatasets.BY_NAME.get(n.replaceAll(":(train|test)$", ""));
            BuiltInDatasets.Generated g = BuiltInDatasets.generatedOf(n);
            if (g != null) {
                System.out.println(g.name() + ": " + fetcher.ensure(g));
                continue;
            }
            if (d == null) {
                var known = new java.util.TreeSet<>(BuiltInDatasets.BY_NAME.keySet());
                known.addAll(BuiltInDatasets.GENERATED.keySet());
                System.err.println("error: unknown dataset '" + n + "' (known: " + String.join(", ", known) + ")");
                return 2;
            }
            System.out.println(d.name() + ": " + fetcher.ensure(d));
        }
        return 0;
    }
}
